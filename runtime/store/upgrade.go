package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

const (
	upgradeFile = "upgrade.json" // the new state, until the upgrade commits
	oldRootfs   = "rootfs-old"   // the previous rootfs, until it is deleted
)

// Upgrade replaces plugin p.ID's rootfs by newRootfs (a directory on the
// same file system, for example a staging rootfs) and its state by p. The
// rename of the new state over the old one is the commit point: a crash
// before it leaves the old rootfs and state (Open puts them back), one after
// it the new ones.
func (s *Store) Upgrade(p plugin.Plugin, newRootfs string) (retErr error) {
	dir := s.Dir(p.ID)
	pending := filepath.Join(dir, upgradeFile)
	if err := atomicfile.WriteJSON(pending, Record{Plugin: p}, 0o600); err != nil {
		return fmt.Errorf("upgrade plugin %s: %w", p.ID, err)
	}
	defer func() {
		if retErr != nil {
			_ = os.Remove(pending)
		}
	}()
	_ = os.RemoveAll(filepath.Join(dir, oldRootfs))
	if err := os.Rename(s.Rootfs(p.ID), filepath.Join(dir, oldRootfs)); err != nil {
		return fmt.Errorf("upgrade plugin %s: %w", p.ID, err)
	}
	if err := os.Rename(newRootfs, s.Rootfs(p.ID)); err != nil {
		_ = os.Rename(filepath.Join(dir, oldRootfs), s.Rootfs(p.ID))
		return fmt.Errorf("upgrade plugin %s: %w", p.ID, err)
	}
	if err := os.Rename(pending, filepath.Join(dir, stateFile)); err != nil {
		_ = os.Rename(s.Rootfs(p.ID), newRootfs)
		_ = os.Rename(filepath.Join(dir, oldRootfs), s.Rootfs(p.ID))
		return fmt.Errorf("upgrade plugin %s: %w", p.ID, err)
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(dir, oldRootfs))
}

// recoverUpgrade finishes or undoes an upgrade of plugin id that a crash
// interrupted.
func (s *Store) recoverUpgrade(id string) error {
	dir := s.Dir(id)
	old := filepath.Join(dir, oldRootfs)
	if _, err := os.Stat(filepath.Join(dir, upgradeFile)); err == nil {
		// Not committed: the old rootfs goes back if it was moved away.
		if _, err := os.Stat(old); err == nil {
			if err := os.RemoveAll(s.Rootfs(id)); err != nil {
				return err
			}
			if err := os.Rename(old, s.Rootfs(id)); err != nil {
				return err
			}
		}
		return os.Remove(filepath.Join(dir, upgradeFile))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(old)
}
