// Package store keeps managed plugins on disk, one directory per plugin
// under <data-root>/plugins, in the layout Docker uses:
//
//	<id>/config.json       the plugin's state (config, settings, enabled)
//	<id>/rootfs/           the plugin's root filesystem
//	<id>/propagated-mount/ the host side of Config.PropagatedMount
//	<id>/logs/             the plugin's output, written by its monitor
//
// Every state write is atomic, so a kill -9 at any moment leaves either the
// old or the new state. Creating and removing a plugin are renames.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

const (
	stateFile   = "config.json"
	tmpDir      = "tmp"
	removingSfx = "-removing"
)

// Record is the persisted state of one plugin.
type Record struct {
	Plugin plugin.Plugin `json:"plugin"`
}

// Store is a directory of plugins. It does no locking of its own: the
// caller serialises operations on one plugin.
type Store struct {
	root     string
	deleting sync.WaitGroup // Remove's deletions in the background
}

// Open opens (creating if needed) the store under dir, and finishes or
// undoes operations a crash interrupted: half-created plugins in tmp/,
// half-removed <id>-removing directories and half-written state files
// (.config.json.tmp-N) are deleted, and half-done upgrades are finished
// or undone (see Upgrade).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{root: dir}
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, tmpDir, e.Name()))
	}
	entries, err = os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), removingSfx) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		} else if e.IsDir() && config.IsID(e.Name()) {
			// A state write a crash interrupted: the old state stands.
			for _, tmp := range atomicfile.Temps(s.Dir(e.Name())) {
				if err := os.Remove(tmp); err != nil {
					return nil, fmt.Errorf("open store: %w", err)
				}
			}
			if err := s.recoverUpgrade(e.Name()); err != nil {
				return nil, fmt.Errorf("open store: plugin %s: interrupted upgrade: %w", e.Name(), err)
			}
		}
	}
	return s, nil
}

// Dir is plugin id's directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, id) }

// Rootfs is plugin id's root filesystem.
func (s *Store) Rootfs(id string) string { return filepath.Join(s.root, id, "rootfs") }

// PropagatedMount is the host directory behind Config.PropagatedMount.
func (s *Store) PropagatedMount(id string) string {
	return filepath.Join(s.root, id, "propagated-mount")
}

// LogDir is where plugin id's output is kept.
func (s *Store) LogDir(id string) string { return filepath.Join(s.root, id, "logs") }

// Load reads every plugin. A plugin whose state cannot be read is returned
// in the error (joined), and the others still load.
func (s *Store) Load() ([]Record, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("load store: %w", err)
	}
	var recs []Record
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !config.IsID(e.Name()) {
			continue
		}
		r, err := s.read(e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, errors.Join(errs...)
}

func (s *Store) read(id string) (Record, error) {
	var r Record
	p := filepath.Join(s.root, id, stateFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return r, fmt.Errorf("plugin %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("plugin %s: %s: %w", id, p, err)
	}
	if r.Plugin.ID != id {
		return r, fmt.Errorf("plugin %s: %s: ID %q does not match its directory", id, p, r.Plugin.ID)
	}
	return r, nil
}

// Save atomically writes a plugin's state.
func (s *Store) Save(p plugin.Plugin) error {
	return atomicfile.WriteJSON(filepath.Join(s.root, p.ID, stateFile), Record{Plugin: p}, 0o600)
}

// NewStaging makes an empty staging directory for a plugin being created,
// with an empty rootfs/ inside. Commit or Discard it.
func (s *Store) NewStaging() (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.root, tmpDir), "create-")
	if err != nil {
		return "", fmt.Errorf("create staging dir: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create staging dir: %w", err)
	}
	return dir, nil
}

// Commit writes p's state into staging and moves it into place as plugin
// p.ID in one rename.
func (s *Store) Commit(staging string, p plugin.Plugin) error {
	if err := atomicfile.WriteJSON(filepath.Join(staging, stateFile), Record{Plugin: p}, 0o600); err != nil {
		return err
	}
	if err := os.Rename(staging, s.Dir(p.ID)); err != nil {
		return fmt.Errorf("commit plugin %s: %w", p.ID, err)
	}
	return atomicfile.SyncDir(s.root)
}

// Discard removes a staging directory.
func (s *Store) Discard(staging string) { _ = os.RemoveAll(staging) }

// Remove deletes plugin id. The removal is one rename, to <id>-removing,
// made durable before Remove returns: from then on the plugin is gone for
// Load and for a daemon that starts again, after a kill -9 or a power cut
// alike. The files go in the background, as deleting a rootfs is work for
// the disk that no caller needs to wait for (Wait does); what a crash
// leaves of them, Open deletes.
func (s *Store) Remove(id string) error {
	gone := s.Dir(id) + removingSfx
	if err := os.Rename(s.Dir(id), gone); err != nil {
		return fmt.Errorf("remove plugin %s: %w", id, err)
	}
	if err := atomicfile.SyncDir(s.root); err != nil {
		return fmt.Errorf("remove plugin %s: %w", id, err)
	}
	s.deleting.Add(1)
	go func() {
		defer s.deleting.Done()
		// An error leaves the directory to the next Open.
		_ = os.RemoveAll(gone)
	}()
	return nil
}

// Wait waits until the files of the plugins removed so far are deleted.
func (s *Store) Wait() { s.deleting.Wait() }

// optsFile holds plugdbg's own per-plugin options (Docker keeps none of
// them), beside the plugin's state.
const optsFile = "plugdbg-opts.json"

// Opts are plugdbg's own per-plugin options.
type Opts struct {
	// Publish: while enabled, the plugin is published for dockerd's
	// legacy plugin discovery (package discovery).
	Publish bool `json:"Publish,omitempty"`
	// Observe: while it runs, the plugin's calls are counted by a
	// recording point on its socket (package observe).
	Observe bool `json:"Observe,omitempty"`
	// LogOpts rotate the plugin's output history (max-size, max-file, as
	// --log-opt takes them); the daemon's defaults where unset.
	LogOpts map[string]string `json:"LogOpts,omitempty"`
}

// Opts reads plugin id's options; none are the zero Opts.
func (s *Store) Opts(id string) (Opts, error) {
	var o Opts
	p := filepath.Join(s.Dir(id), optsFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("plugin %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return Opts{}, fmt.Errorf("plugin %s: %s: %w", id, p, err)
	}
	return o, nil
}

// SaveOpts atomically writes plugin id's options.
func (s *Store) SaveOpts(id string, o Opts) error {
	return atomicfile.WriteJSON(filepath.Join(s.Dir(id), optsFile), o, 0o600)
}
