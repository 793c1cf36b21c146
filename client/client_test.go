package client_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/version"
)

// newDaemon serves the real API, over a real manager, on a unix socket and
// returns a client for it.
func newDaemon(t *testing.T) *client.Client {
	t.Helper()
	return client.New("unix://" + apitest.Serve(t))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const testConfig = `{
  "Description": "test plugin",
  "Entrypoint": ["/bin/plugin"],
  "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "p.sock"},
  "Env": [{"Name": "DEBUG", "Settable": ["value"], "Value": "0"}]
}`

// pluginDir writes a plugin directory: config.json and rootfs/ with the
// entrypoint, a symlink and an empty directory.
func pluginDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rootfs", "empty"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "bin", "plugin"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("plugin", filepath.Join(dir, "rootfs", "bin", "alias")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ignored.txt"), []byte("not sent"), 0o644))
	return dir
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		host string
		want string
	}{
		{name: "unix URL", host: "unix:///run/plugdbg/plugdbg.sock", want: "/run/plugdbg/plugdbg.sock"},
		{name: "bare path", host: "/tmp/x.sock", want: "/tmp/x.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, client.New(tt.host).Socket)
		})
	}
}

func TestClientLifecycle(t *testing.T) {
	c := newDaemon(t)
	ctx := testCtx(t)

	v, err := c.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, version.APIVersion, v.APIVersion)

	list, err := c.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)

	require.NoError(t, c.CreateFromDir(ctx, "vieux/sshfs", pluginDir(t, testConfig)))
	p, err := c.Inspect(ctx, "vieux/sshfs")
	require.NoError(t, err)
	assert.Equal(t, "vieux/sshfs:latest", p.Name)
	assert.Equal(t, []string{"DEBUG=0"}, p.Settings.Env)

	require.NoError(t, c.Set(ctx, "vieux/sshfs", []string{"DEBUG=1"}))
	p, err = c.Inspect(ctx, p.ID[:12])
	require.NoError(t, err)
	assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)

	yes, no := true, false
	filters := []struct {
		name string
		opts client.ListOptions
		want int
	}{
		{name: "none", opts: client.ListOptions{}, want: 1},
		{name: "enabled", opts: client.ListOptions{Enabled: &yes}, want: 0},
		{name: "disabled", opts: client.ListOptions{Enabled: &no}, want: 1},
		{name: "volumedriver", opts: client.ListOptions{Capability: []string{"volumedriver"}}, want: 1},
		{name: "networkdriver", opts: client.ListOptions{Capability: []string{"networkdriver"}}, want: 0},
		{name: "either", opts: client.ListOptions{Capability: []string{"networkdriver", "volumedriver"}}, want: 1},
	}
	for _, f := range filters {
		t.Run("list "+f.name, func(t *testing.T) {
			list, err := c.List(ctx, f.opts)
			require.NoError(t, err)
			assert.Len(t, list, f.want)
		})
	}

	require.NoError(t, c.Remove(ctx, "vieux/sshfs", false))
	_, err = c.Inspect(ctx, "vieux/sshfs")
	assert.True(t, client.IsNotFound(err), "got %v", err)
}

func TestCreateFromDirSendsOnlyConfigAndRootfs(t *testing.T) {
	c := newDaemon(t)
	ctx := testCtx(t)
	dir := pluginDir(t, testConfig)
	require.NoError(t, c.CreateFromDir(ctx, "p", dir))
	// The daemon checks the entrypoint inside the unpacked rootfs, so a
	// create that succeeds got rootfs/bin/plugin with its exec bit.
	p, err := c.Inspect(ctx, "p")
	require.NoError(t, err)
	require.NotNil(t, p.Config.Rootfs)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, p.Config.Rootfs.DiffIds[0])
}

func TestCreateFromDirErrors(t *testing.T) {
	c := client.New(filepath.Join(apitest.ShortTempDir(t), "no-daemon.sock")) // checked before any request
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantMsg []string
	}{
		{
			name:    "missing directory",
			dir:     func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") },
			wantMsg: []string{"plugin directory", "missing"},
		},
		{
			name: "not a directory",
			dir: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "file")
				require.NoError(t, os.WriteFile(f, nil, 0o644))
				return f
			},
			wantMsg: []string{"not a directory"},
		},
		{
			name: "no config.json",
			dir: func(t *testing.T) string {
				d := pluginDir(t, testConfig)
				require.NoError(t, os.Remove(filepath.Join(d, "config.json")))
				return d
			},
			wantMsg: []string{"config.json"},
		},
		{
			name:    "broken config.json",
			dir:     func(t *testing.T) string { return pluginDir(t, `{"Entrypoint": [}`) },
			wantMsg: []string{"config.json", "line 1"},
		},
		{
			name: "no rootfs",
			dir: func(t *testing.T) string {
				d := pluginDir(t, testConfig)
				require.NoError(t, os.RemoveAll(filepath.Join(d, "rootfs")))
				return d
			},
			wantMsg: []string{"rootfs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CreateFromDir(testCtx(t), "p", tt.dir(t))
			require.Error(t, err)
			var de *client.DaemonError
			assert.False(t, errors.As(err, &de), "the daemon was contacted: %v", err)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestErrorAnswers(t *testing.T) {
	c := newDaemon(t)
	ctx := testCtx(t)
	require.NoError(t, c.CreateFromDir(ctx, "p", pluginDir(t, testConfig)))
	tests := []struct {
		name       string
		call       func() error
		wantStatus int
		wantKind   func(error) bool // the kind the client reads from the status
		wantMsg    string
	}{
		{name: "inspect unknown", call: func() error { _, err := c.Inspect(ctx, "x"); return err }, wantStatus: 404, wantKind: errdefs.IsNotFound, wantMsg: `plugin "x" not found`},
		{name: "remove unknown", call: func() error { return c.Remove(ctx, "x", false) }, wantStatus: 404, wantKind: errdefs.IsNotFound, wantMsg: `plugin "x" not found`},
		{name: "set unknown key", call: func() error { return c.Set(ctx, "p", []string{"NOPE=1"}) }, wantStatus: 400, wantKind: errdefs.IsInvalidArgument, wantMsg: `setting "NOPE" not found in the plugin configuration`},
		{name: "disable disabled", call: func() error { return c.Disable(ctx, "p", false) }, wantStatus: 409, wantKind: errdefs.IsConflict, wantMsg: "plugin is already disabled: plugin p:latest found but disabled"},
		{name: "create existing", call: func() error { return c.CreateFromDir(ctx, "p", pluginDir(t, testConfig)) }, wantStatus: 409, wantKind: errdefs.IsConflict, wantMsg: "plugin p:latest already exists"},
		{name: "enable that cannot start", call: func() error { return c.Enable(ctx, "p", 5*time.Second) }, wantStatus: 500, wantKind: errdefs.IsInternal, wantMsg: apitest.ErrNoRun.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			var ce *client.Error
			require.True(t, errors.As(err, &ce), "want *client.Error, got %T: %v", err, err)
			assert.Equal(t, tt.wantStatus, ce.Status)
			assert.Contains(t, ce.Message, tt.wantMsg)
			assert.Equal(t, ce.Message, err.Error(), "the error text is the daemon's message, not JSON")
			assert.Equal(t, tt.wantStatus == 404, client.IsNotFound(err))
			assert.True(t, tt.wantKind(err), "kind of a %d answer", ce.Status)
		})
	}
}

func TestDaemonUnreachable(t *testing.T) {
	dir := apitest.ShortTempDir(t)
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())

	tests := []struct {
		name    string
		socket  string
		wantErr error
	}{
		{name: "missing socket", socket: filepath.Join(dir, "missing.sock"), wantErr: syscall.ENOENT},
		{name: "socket nobody serves", socket: stale, wantErr: syscall.ECONNREFUSED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client.New("unix://" + tt.socket)
			_, err := c.List(testCtx(t), client.ListOptions{})
			require.Error(t, err)
			var de *client.DaemonError
			require.True(t, errors.As(err, &de), "want *client.DaemonError, got %T: %v", err, err)
			assert.Equal(t, "unix://"+tt.socket, de.Host)
			assert.Contains(t, err.Error(), "is plugdbgd running")
			assert.Contains(t, err.Error(), "unix://"+tt.socket)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.False(t, client.IsNotFound(err))
		})
	}
}

func TestCanceledContextIsNotADaemonError(t *testing.T) {
	c := client.New("unix://" + filepath.Join(apitest.ShortTempDir(t), "missing.sock"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Version(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	var de *client.DaemonError
	assert.False(t, errors.As(err, &de))
}
