// Package plugintest serves plugins on real unix sockets for the tests of
// probe and its conformance suite: an in-memory volume driver built on
// go-plugins-helpers, and any http.Handler.
package plugintest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
)

// ShortSocket returns a socket path in a fresh short directory, removed when
// the test ends: t.TempDir paths of long test names overflow sun_path.
func ShortSocket(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdp")
	if err != nil {
		t.Fatalf("socket directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "p.sock")
}

// ServeHTTP serves h on a unix socket until the test ends and returns the
// socket's path.
func ServeHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	sock := Serve(t, srv)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// Serve serves a go-plugins-helpers handler (or anything that serves a
// listener) on a unix socket until the test ends and returns the socket's
// path.
func Serve(t testing.TB, h interface{ Serve(net.Listener) error }) string {
	t.Helper()
	sock := ShortSocket(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go func() { _ = h.Serve(ln) }()
	t.Cleanup(func() { ln.Close() })
	return sock
}

// VolumePlugin serves a conforming MemVolumes and returns its socket.
func VolumePlugin(t testing.TB) (string, *MemVolumes) {
	t.Helper()
	d := NewMemVolumes()
	return Serve(t, volume.NewHandler(d)), d
}

// MemVolumes is a conforming in-memory volume driver. It is safe for
// concurrent use.
type MemVolumes struct {
	mu   sync.Mutex
	vols map[string]map[string]string // name -> options
}

// NewMemVolumes returns a driver with no volumes.
func NewMemVolumes() *MemVolumes {
	return &MemVolumes{vols: map[string]map[string]string{}}
}

// Volumes returns a copy of the volumes: their names and Create options.
func (d *MemVolumes) Volumes() map[string]map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.vols)
}

// Create implements volume.Driver.
func (d *MemVolumes) Create(r *volume.CreateRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.vols[r.Name] = r.Options
	return nil
}

// List implements volume.Driver.
func (d *MemVolumes) List() (*volume.ListResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	res := &volume.ListResponse{Volumes: []*volume.Volume{}}
	names := make([]string, 0, len(d.vols))
	for n := range d.vols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		res.Volumes = append(res.Volumes, &volume.Volume{Name: n, Mountpoint: "/data/" + n})
	}
	return res, nil
}

// Get implements volume.Driver; a missing volume is an error.
func (d *MemVolumes) Get(r *volume.GetRequest) (*volume.GetResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	opts, ok := d.vols[r.Name]
	if !ok {
		return nil, fmt.Errorf("no such volume: %s", r.Name)
	}
	st := map[string]any{}
	for k, v := range opts {
		st[k] = v
	}
	return &volume.GetResponse{Volume: &volume.Volume{Name: r.Name, Mountpoint: "/data/" + r.Name, Status: st}}, nil
}

// Remove implements volume.Driver.
func (d *MemVolumes) Remove(r *volume.RemoveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.vols[r.Name]; !ok {
		return fmt.Errorf("no such volume: %s", r.Name)
	}
	delete(d.vols, r.Name)
	return nil
}

// Path implements volume.Driver.
func (d *MemVolumes) Path(r *volume.PathRequest) (*volume.PathResponse, error) {
	if _, err := d.Get(&volume.GetRequest{Name: r.Name}); err != nil {
		return nil, err
	}
	return &volume.PathResponse{Mountpoint: "/data/" + r.Name}, nil
}

// Mount implements volume.Driver.
func (d *MemVolumes) Mount(r *volume.MountRequest) (*volume.MountResponse, error) {
	if _, err := d.Get(&volume.GetRequest{Name: r.Name}); err != nil {
		return nil, err
	}
	return &volume.MountResponse{Mountpoint: "/data/" + r.Name}, nil
}

// Unmount implements volume.Driver.
func (d *MemVolumes) Unmount(r *volume.UnmountRequest) error {
	_, err := d.Get(&volume.GetRequest{Name: r.Name})
	return err
}

// Capabilities implements volume.Driver: a local driver.
func (d *MemVolumes) Capabilities() *volume.CapabilitiesResponse {
	return &volume.CapabilitiesResponse{Capabilities: volume.Capability{Scope: "local"}}
}
