package manager

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/runtime/discovery"
	"github.com/plugdbg/plugdbg/runtime/trace"
	"github.com/plugdbg/plugdbg/runtime/usage"
)

// Docker interop: publication of plugins for dockerd's legacy discovery,
// and what traces saw holding each plugin.

// usageTrackers holds one usage.Tracker per plugin that was traced.
type usageTrackers struct {
	mu   sync.Mutex
	byID map[string]*usage.Tracker
}

func (u *usageTrackers) get(id string) *usage.Tracker {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byID == nil {
		u.byID = map[string]*usage.Tracker{}
	}
	t := u.byID[id]
	if t == nil {
		t = &usage.Tracker{}
		u.byID[id] = t
	}
	return t
}

func (u *usageTrackers) forget(id string) {
	u.mu.Lock()
	delete(u.byID, id)
	u.mu.Unlock()
}

// traceStarted and traceRecord feed the usage of plugin id from its traces.
func (m *Manager) traceStarted(id string)                { m.usage.get(id).Started(time.Now()) }
func (m *Manager) traceRecord(id string, r trace.Record) { m.usage.get(id).Record(r) }

// Usage says what holds plugin ref, as far as its traces saw: mounts not
// unmounted, volumes, networks, endpoints and pools created and not
// removed. With calls, the trace's recent calls come too.
func (m *Manager) Usage(ref string, calls bool) (usage.Usage, error) {
	e, err := m.find(ref)
	if err != nil {
		return usage.Usage{}, err
	}
	m.mu.Lock()
	u := usage.Usage{Plugin: e.p.ID, Name: e.p.Name}
	m.mu.Unlock()
	m.usage.get(u.Plugin).Snapshot(&u, calls)
	if !u.Traced {
		u.Note = "no trace has run on this plugin since the daemon started, so what holds it is unknown: run plugdbg trace " + u.Name + " while clients use it"
	} else {
		u.Note = "only calls made while a trace ran are known; dockerd's own reference count is not visible to plugdbg"
	}
	return u, nil
}

// publishDir is where plugins are published.
func (m *Manager) publishDir() string {
	if m.opts.PublishDir == "" {
		return discovery.DefaultDir
	}
	return m.opts.PublishDir
}

// wantsPublish reports whether plugin id is to be published while enabled.
func (m *Manager) wantsPublish(id string) bool {
	if m.opts.PublishAll {
		return true
	}
	o, err := m.store.Opts(id)
	if err != nil {
		m.log.WithField("plugin", id).WithError(err).Warn("read plugin options")
	}
	return o.Publish
}

// publish links an enabled plugin's socket for dockerd, if it is wanted;
// a failure is logged, not returned: the plugin runs all the same.
func (m *Manager) publish(p plugin.Plugin) {
	if !m.wantsPublish(p.ID) {
		return
	}
	link, err := discovery.Publish(m.publishDir(), p.Name, m.socketPath(p))
	if err != nil {
		m.log.WithField("plugin", p.ID).WithError(err).Warn("publish for dockerd")
		return
	}
	m.log.WithField("plugin", p.ID).Infof("published for dockerd as %s", link)
}

// unpublish removes the plugin's link if it still points at its socket.
func (m *Manager) unpublish(p plugin.Plugin) {
	if err := discovery.Unpublish(m.publishDir(), p.Name, m.socketPath(p)); err != nil {
		m.log.WithField("plugin", p.ID).WithError(err).Warn("unpublish")
	}
}

// published is the plugin's link, or "" if it is not published.
func (m *Manager) published(p plugin.Plugin) string {
	return discovery.Published(m.publishDir(), p.Name, m.socketPath(p))
}

// SetPublish turns the publication of plugin ref for dockerd's legacy
// discovery on or off. It is kept with the plugin and applied at once if
// the plugin is enabled.
func (m *Manager) SetPublish(ref string, on bool) error {
	e, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	m.mu.Lock()
	p := e.p
	m.mu.Unlock()
	o, _ := m.store.Opts(p.ID)
	o.Publish = on
	if err := m.store.SaveOpts(p.ID, o); err != nil {
		return err
	}
	switch {
	case p.Enabled && m.wantsPublish(p.ID):
		m.publish(p)
	case p.Enabled:
		m.unpublish(p)
	}
	v := "false"
	if on {
		v = "true"
	}
	m.emit(p.ID, p.Name, ActionSet, map[string]string{"publish": v})
	return nil
}

// RepublishAll publishes every enabled plugin that wants it; the daemon
// calls it after Restore, since /run does not survive a reboot.
func (m *Manager) RepublishAll() {
	for _, in := range m.List() {
		if in.Enabled {
			m.publish(in.Plugin)
		}
	}
}
