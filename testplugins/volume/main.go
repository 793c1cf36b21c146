// Command pdvol is a local volume plugin used by plugdbg's integration tests
// and demo. Each volume is a directory under the propagated mount, so the set
// of volumes lives on disk and survives a restart of the plugin; only mount
// references are kept in memory.
//
// Every call is logged as one line on stdout, every failure also as one line
// on stderr, so tests can see both of the runtime's log streams at work.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker/go-plugins-helpers/volume"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const (
	socket = "pdvol.sock" // must equal config.json's interface.socket
	root   = "/data"      // must equal config.json's propagatedMount
)

var (
	logOut = newLogger(os.Stdout)
	logErr = newLogger(os.Stderr)
)

func newLogger(w *os.File) *logrus.Logger {
	l := logrus.New()
	l.Out = w
	// The runtime timestamps each line it relays, and a fixed format keeps
	// the output the same on a terminal and on a pipe.
	l.Formatter = &logrus.TextFormatter{DisableTimestamp: true, DisableColors: true}
	return l
}

// driver implements volume.Driver on top of the directories in root.
type driver struct {
	root string

	mu     sync.Mutex
	mounts map[string]map[string]bool // volume name -> mount IDs
}

// call logs one request line on stdout and, on failure, one on stderr.
func call(method, name string, err error, extra logrus.Fields) {
	fields := logrus.Fields{}
	if name != "" {
		fields["name"] = name
	}
	if logOut.IsLevelEnabled(logrus.DebugLevel) {
		for k, v := range extra {
			fields[k] = v
		}
	}
	logOut.WithFields(fields).Info(method)
	if err != nil {
		logErr.WithFields(fields).WithError(err).Error(method + " failed")
	}
}

// dir returns the directory of volume name, rejecting names that would
// escape root.
func (d *driver) dir(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("invalid volume name %q", name)
	}
	return filepath.Join(d.root, name), nil
}

// existing returns the directory of an existing volume.
func (d *driver) existing(name string) (string, error) {
	p, err := d.dir(name)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return "", fmt.Errorf("no such volume: %s", name)
	}
	return p, err
}

func (d *driver) Create(r *volume.CreateRequest) (err error) {
	defer func() { call("VolumeDriver.Create", r.Name, err, logrus.Fields{"opts": r.Options}) }()
	if r.Options["fail"] == "1" {
		return fmt.Errorf("create %s: failing on purpose (opt fail=1)", r.Name)
	}
	p, err := d.dir(r.Name)
	if err != nil {
		return err
	}
	// Mkdir, not MkdirAll: if the runtime did not mount root, say so instead
	// of quietly creating volumes inside the plugin's rootfs.
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func (d *driver) List() (res *volume.ListResponse, err error) {
	defer func() {
		n := 0
		if res != nil {
			n = len(res.Volumes)
		}
		call("VolumeDriver.List", "", err, logrus.Fields{"count": n})
	}()
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return nil, err
	}
	res = &volume.ListResponse{Volumes: []*volume.Volume{}} // [] rather than null
	for _, e := range entries {
		if e.IsDir() {
			res.Volumes = append(res.Volumes, &volume.Volume{Name: e.Name(), Mountpoint: filepath.Join(d.root, e.Name())})
		}
	}
	return res, nil
}

func (d *driver) Get(r *volume.GetRequest) (res *volume.GetResponse, err error) {
	defer func() { call("VolumeDriver.Get", r.Name, err, nil) }()
	p, err := d.existing(r.Name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	ids := sortedKeys(d.mounts[r.Name])
	d.mu.Unlock()
	// CreatedAt is left out: the daemon parses it as RFC 3339 and a
	// directory has no reliable creation time to offer.
	return &volume.GetResponse{Volume: &volume.Volume{
		Name:       r.Name,
		Mountpoint: p,
		Status:     map[string]interface{}{"mounts": ids},
	}}, nil
}

func (d *driver) Remove(r *volume.RemoveRequest) (err error) {
	defer func() { call("VolumeDriver.Remove", r.Name, err, nil) }()
	p, err := d.existing(r.Name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.mounts[r.Name]); n > 0 {
		return fmt.Errorf("volume %s is in use (%d mounts)", r.Name, n)
	}
	return os.RemoveAll(p)
}

func (d *driver) Path(r *volume.PathRequest) (res *volume.PathResponse, err error) {
	defer func() { call("VolumeDriver.Path", r.Name, err, nil) }()
	p, err := d.existing(r.Name)
	if err != nil {
		return nil, err
	}
	return &volume.PathResponse{Mountpoint: p}, nil
}

func (d *driver) Mount(r *volume.MountRequest) (res *volume.MountResponse, err error) {
	defer func() { call("VolumeDriver.Mount", r.Name, err, logrus.Fields{"id": r.ID}) }()
	p, err := d.existing(r.Name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mounts[r.Name] == nil {
		d.mounts[r.Name] = map[string]bool{}
	}
	d.mounts[r.Name][r.ID] = true
	return &volume.MountResponse{Mountpoint: p}, nil
}

func (d *driver) Unmount(r *volume.UnmountRequest) (err error) {
	defer func() { call("VolumeDriver.Unmount", r.Name, err, logrus.Fields{"id": r.ID}) }()
	if _, err := d.existing(r.Name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// An unknown ID is not an error: after a plugin restart the daemon still
	// unmounts what it mounted before, and we have forgotten those IDs.
	delete(d.mounts[r.Name], r.ID)
	return nil
}

func (d *driver) Capabilities() *volume.CapabilitiesResponse {
	call("VolumeDriver.Capabilities", "", nil, nil)
	return &volume.CapabilitiesResponse{Capabilities: volume.Capability{Scope: "local"}}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func main() {
	ctx := plugsock.TermContext()
	if os.Getenv("DEBUG") == "1" {
		logOut.SetLevel(logrus.DebugLevel)
	}

	path := plugsock.Path(socket)
	// Not volume.Handler.ServeUnix: it appends ".sock" to a relative name and
	// hides the listener, so SIGTERM could not close it.
	l, err := plugsock.Listen(path)
	if err != nil {
		logErr.WithError(err).Error("listen")
		os.Exit(1)
	}
	fmt.Printf("pdvol listening on %s\n", path)
	if args := os.Args[1:]; len(args) > 0 {
		logOut.WithField("args", args).Info("args")
	}
	logOut.WithField("root", root).Debug("debug logging on")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		logErr.Errorf("propagated mount %s is missing: every Create will fail", root)
	}

	h := volume.NewHandler(&driver{root: root, mounts: map[string]map[string]bool{}})
	if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
		logErr.WithError(err).Error("serve")
		os.Exit(1)
	}
	fmt.Println("pdvol: SIGTERM received, exiting")
}
