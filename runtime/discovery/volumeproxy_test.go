package discovery

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
)

// pathsDriver is a volume driver whose volumes are mounted at
// /data/<name> inside its container, as the volume test plugin's are.
type pathsDriver struct{}

func (pathsDriver) Create(*volume.CreateRequest) error { return nil }
func (pathsDriver) List() (*volume.ListResponse, error) {
	return &volume.ListResponse{Volumes: []*volume.Volume{{Name: "a", Mountpoint: "/data/a"}, {Name: "b"}}}, nil
}
func (pathsDriver) Get(r *volume.GetRequest) (*volume.GetResponse, error) {
	return &volume.GetResponse{Volume: &volume.Volume{Name: r.Name, Mountpoint: "/data/" + r.Name, Status: map[string]any{"k": 1.5}}}, nil
}
func (pathsDriver) Remove(*volume.RemoveRequest) error { return nil }
func (pathsDriver) Path(r *volume.PathRequest) (*volume.PathResponse, error) {
	return &volume.PathResponse{Mountpoint: "/elsewhere/" + r.Name}, nil
}
func (pathsDriver) Mount(r *volume.MountRequest) (*volume.MountResponse, error) {
	return &volume.MountResponse{Mountpoint: "/data/" + r.Name}, nil
}
func (pathsDriver) Unmount(*volume.UnmountRequest) error { return nil }
func (pathsDriver) Capabilities() *volume.CapabilitiesResponse {
	return &volume.CapabilitiesResponse{Capabilities: volume.Capability{Scope: "local"}}
}

// TestVolumeProxyRescopesMountpoints runs a real go-plugins-helpers volume
// driver on a unix socket behind the proxy, and calls it as dockerd does.
func TestVolumeProxyRescopesMountpoints(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	go func() { _ = volume.NewHandler(pathsDriver{}).Serve(ln) }()
	defer ln.Close()

	dir := t.TempDir()
	scope := func(p string) string { return ScopedPath("/host/rootfs", "/data", "/host/pm", p) }
	proxy, err := PublishVolumes(dir, "vol:latest", sock, scope)
	require.NoError(t, err)
	defer proxy.Close()
	assert.Equal(t, filepath.Join(dir, "vol.sock"), proxy.Path())

	c := probe.New(proxy.Path())
	defer c.Close()
	ctx := context.Background()
	var mount volume.MountResponse
	require.NoError(t, c.Call(ctx, "VolumeDriver.Mount", volume.MountRequest{Name: "v1", ID: "x"}, &mount))
	assert.Equal(t, "/host/pm/v1", mount.Mountpoint)
	var path volume.PathResponse
	require.NoError(t, c.Call(ctx, "VolumeDriver.Path", volume.PathRequest{Name: "v1"}, &path))
	assert.Equal(t, "/host/rootfs/elsewhere/v1", path.Mountpoint, "outside the propagated mount: into the rootfs")
	var get volume.GetResponse
	require.NoError(t, c.Call(ctx, "VolumeDriver.Get", volume.GetRequest{Name: "v2"}, &get))
	assert.Equal(t, "/host/pm/v2", get.Volume.Mountpoint)
	assert.Equal(t, map[string]any{"k": 1.5}, get.Volume.Status, "the rest of the answer is kept")
	var list volume.ListResponse
	require.NoError(t, c.Call(ctx, "VolumeDriver.List", struct{}{}, &list))
	require.Len(t, list.Volumes, 2)
	assert.Equal(t, "/host/pm/a", list.Volumes[0].Mountpoint)
	assert.Empty(t, list.Volumes[1].Mountpoint, "an empty Mountpoint stays empty")
	var caps volume.CapabilitiesResponse
	require.NoError(t, c.Call(ctx, "VolumeDriver.Capabilities", nil, &caps))
	assert.Equal(t, "local", caps.Capabilities.Scope, "other methods pass unchanged")

	require.NoError(t, proxy.Close())
	_, err = os.Lstat(proxy.Path())
	assert.ErrorIs(t, err, os.ErrNotExist, "closing removes the socket")
}

func TestVolumeProxyReplacesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "p.sock")
	path := Path(dir, "vol")
	scope := func(p string) string { return p }

	// A socket nobody listens on (a daemon that died left it): replaced.
	stale, err := net.Listen("unix", path)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	proxy, err := PublishVolumes(dir, "vol", target, scope)
	require.NoError(t, err)
	require.NoError(t, proxy.Close())

	// A live socket: refused.
	live, err := net.Listen("unix", path)
	require.NoError(t, err)
	_, err = PublishVolumes(dir, "vol", target, scope)
	assert.ErrorContains(t, err, "something listens there already")
	live.Close()

	// A file: refused.
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err = PublishVolumes(dir, "vol", target, scope)
	assert.ErrorContains(t, err, "is not a socket plugdbg made")
}

func TestScopedPath(t *testing.T) {
	tests := []struct{ pm, in, want string }{
		{"/data", "/data/v1", "/host/pm/v1"},
		{"/data", "/data", "/host/pm"},
		{"/data", "/database/v1", "/host/rootfs/database/v1"},
		{"/data", "/mnt/v1", "/host/rootfs/mnt/v1"},
		{"", "/data/v1", "/host/rootfs/data/v1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ScopedPath("/host/rootfs", tt.pm, "/host/pm", tt.in), "%s in %s", tt.in, tt.pm)
	}
}
