// Command pdbadvol is a volume plugin that breaks Docker's volume protocol
// on purpose, so that plugdbg check has something to fail on. It remembers
// volumes in memory and gets the shapes of the answers wrong:
//
//   - Mount and Path answer a relative Mountpoint;
//   - Get of a missing volume answers a null Volume and no Err, and Get of a
//     known one a CreatedAt that is not an RFC 3339 time;
//   - List leaves out every volume created since it started;
//   - Capabilities answers the scope "cluster";
//   - Remove of a missing volume succeeds.
//
// Create, Unmount and the Mount IDs are handled correctly.
package main

import (
	"fmt"
	"sync"

	"github.com/docker/go-plugins-helpers/volume"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdbadvol.sock" // must equal config.json's interface.socket

type driver struct {
	mu   sync.Mutex
	vols map[string]bool
}

func (d *driver) Create(r *volume.CreateRequest) error {
	if r.Name == "" {
		return fmt.Errorf("a volume needs a name")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.vols[r.Name] = true
	return nil
}

// List forgets new volumes: a listing that lags behind Create.
func (d *driver) List() (*volume.ListResponse, error) {
	return &volume.ListResponse{Volumes: []*volume.Volume{}}, nil
}

// Get answers null for a missing volume, with no error, and a CreatedAt
// dockerd cannot parse for a known one.
func (d *driver) Get(r *volume.GetRequest) (*volume.GetResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.vols[r.Name] {
		return &volume.GetResponse{}, nil
	}
	return &volume.GetResponse{Volume: &volume.Volume{Name: r.Name, Mountpoint: "volumes/" + r.Name, CreatedAt: "yesterday"}}, nil
}

// Remove succeeds whether or not the volume exists.
func (d *driver) Remove(r *volume.RemoveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.vols, r.Name)
	return nil
}

// Path answers a relative path.
func (d *driver) Path(r *volume.PathRequest) (*volume.PathResponse, error) {
	return &volume.PathResponse{Mountpoint: "volumes/" + r.Name}, nil
}

// Mount answers a relative path.
func (d *driver) Mount(r *volume.MountRequest) (*volume.MountResponse, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("mount of %s without an ID", r.Name)
	}
	return &volume.MountResponse{Mountpoint: "volumes/" + r.Name}, nil
}

func (d *driver) Unmount(r *volume.UnmountRequest) error { return nil }

// Capabilities answers a scope that is neither local nor global.
func (d *driver) Capabilities() *volume.CapabilitiesResponse {
	return &volume.CapabilitiesResponse{Capabilities: volume.Capability{Scope: "cluster"}}
}

func main() {
	ctx := plugsock.TermContext()
	plugsock.Run(ctx, "pdbadvol", socket, volume.NewHandler(&driver{vols: map[string]bool{}}).Serve)
}
