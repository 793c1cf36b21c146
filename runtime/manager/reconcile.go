package manager

import (
	"os"
	"path/filepath"

	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// sweeper is an Executor that can find what runs of plugins left on the
// host. At start, Restore uses it, when the executor has it, to stop and
// remove whatever no enabled plugin owns.
type sweeper interface {
	// Leftovers returns, by plugin ID, what is left of runs for every
	// plugin with anything left.
	Leftovers() (map[string]monitor.Leftover, error)
}

// Leftovers implements sweeper: the monitor directories, live monitors,
// containers, libcontainer state and cgroups of plugins.
func (x *MonitorExecutor) Leftovers() (map[string]monitor.Leftover, error) {
	return monitor.Scan(x.Launcher.Root, x.StateRoot)
}

// sweep is the first step of Restore: it finds what runs left on the host
// and removes what belongs to no plugin in the store (a daemon died while
// removing it), killing what still runs of it, then the socket directories
// of plugins that are not enabled. enabled lists the plugins the store
// records as enabled. It returns what it found of the plugins in the
// store, for discardOrphan and recover.
func (m *Manager) sweep(enabled map[string]bool) map[string]monitor.Leftover {
	var left map[string]monitor.Leftover
	if s, ok := m.opts.Executor.(sweeper); ok {
		var err error
		if left, err = s.Leftovers(); err != nil {
			m.log.WithError(err).Warn("find what earlier runs of plugins left")
		}
	}
	for id, l := range left {
		if m.inStore(id) {
			continue
		}
		log := m.log.WithField("plugin", id)
		log.Warnf("removing what runs of plugin %s left (%s): the plugin is not in the store (a daemon died while removing it)", id, l)
		if err := m.opts.Executor.Cleanup(id); err != nil {
			log.WithError(err).Error("remove leftovers of a removed plugin")
		}
		delete(left, id)
	}
	// Only an enabled plugin's run has a socket directory. (A disabled
	// plugin's propagated mount is undone by discardOrphan.)
	dir := filepath.Join(m.opts.ExecRoot, "plugins")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		id := e.Name()
		if enabled[id] || (m.inStore(id) && !m.readable(id)) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, id)); err != nil {
			m.log.WithField("plugin", id).WithError(err).Warn("remove socket dir of a plugin that does not run")
		}
	}
	return left
}

// inStore reports whether the store has a directory for plugin id, whether
// or not its state could be read: the runs of a plugin whose state cannot
// be read are left alone, as it may be enabled.
func (m *Manager) inStore(id string) bool {
	_, err := os.Stat(m.store.Dir(id))
	return err == nil
}

// readable reports whether plugin id was loaded from the store.
func (m *Manager) readable(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.plugins[id]
	return ok
}
