package manager

import (
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/runtime/discovery"
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
func (m *Manager) traceStarted(id string)                     { m.usage.get(id).Started(time.Now()) }
func (m *Manager) traceRecord(id string, r types.TraceRecord) { m.usage.get(id).Record(r) }

// Usage says what holds plugin ref, as far as its traces saw: mounts not
// unmounted, volumes, networks, endpoints and pools created and not
// removed. With calls, the trace's recent calls come too.
func (m *Manager) Usage(ref string, calls bool) (types.Usage, error) {
	e, err := m.find(ref)
	if err != nil {
		return types.Usage{}, err
	}
	m.mu.Lock()
	u := types.Usage{Plugin: e.p.ID, Name: e.p.Name}
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

// volumeProxies are the published volume plugins (discovery.VolumeProxy),
// by plugin ID.
type volumeProxies struct {
	mu   sync.Mutex
	byID map[string]*discovery.VolumeProxy
}

// publish makes an enabled plugin reachable for dockerd, if it is wanted:
// a volume plugin through a proxy that shows dockerd its Mountpoints on
// the host, as dockerd's managed plugins do; any other as a link to its
// socket. A failure is logged, not returned: the plugin runs all the same.
func (m *Manager) publish(p plugin.Plugin) {
	if !m.wantsPublish(p.ID) {
		return
	}
	log := m.log.WithField("plugin", p.ID)
	if !slices.Contains(config.InterfaceNames(p.Config.Interface.Types), "VolumeDriver") {
		link, err := discovery.Publish(m.publishDir(), p.Name, m.socketPath(p))
		if err != nil {
			log.WithError(err).Warn("publish for dockerd")
			return
		}
		log.Infof("published for dockerd as %s", link)
		return
	}
	m.proxies.mu.Lock()
	defer m.proxies.mu.Unlock()
	if m.proxies.byID[p.ID] != nil {
		return // published already
	}
	pm, host, rootfs := p.Config.PropagatedMount, m.store.PropagatedMount(p.ID), m.store.Rootfs(p.ID)
	proxy, err := discovery.PublishVolumes(m.publishDir(), p.Name, m.socketPath(p), func(mp string) string {
		return discovery.ScopedPath(rootfs, pm, host, mp)
	})
	if err != nil {
		log.WithError(err).Warn("publish for dockerd")
		return
	}
	if m.proxies.byID == nil {
		m.proxies.byID = map[string]*discovery.VolumeProxy{}
	}
	m.proxies.byID[p.ID] = proxy
	log.Infof("published for dockerd as %s (a proxy that shows dockerd Mountpoints on the host)", proxy.Path())
}

// unpublish removes what publish made: the proxy, or the link if it still
// points at the plugin's socket.
func (m *Manager) unpublish(p plugin.Plugin) {
	m.proxies.mu.Lock()
	proxy := m.proxies.byID[p.ID]
	delete(m.proxies.byID, p.ID)
	m.proxies.mu.Unlock()
	if proxy != nil {
		if err := proxy.Close(); err != nil {
			m.log.WithField("plugin", p.ID).WithError(err).Warn("unpublish")
		}
		return
	}
	if err := discovery.Unpublish(m.publishDir(), p.Name, m.socketPath(p)); err != nil {
		m.log.WithField("plugin", p.ID).WithError(err).Warn("unpublish")
	}
}

// published is where the plugin is published, or "" if it is not.
func (m *Manager) published(p plugin.Plugin) string {
	m.proxies.mu.Lock()
	proxy := m.proxies.byID[p.ID]
	m.proxies.mu.Unlock()
	if proxy != nil {
		return proxy.Path()
	}
	return discovery.Published(m.publishDir(), p.Name, m.socketPath(p))
}

// closeProxies stops the volume proxies at daemon shutdown; the next
// daemon starts them again (RepublishAll). Meanwhile dockerd cannot reach
// those plugins, unlike the ones published as links.
func (m *Manager) closeProxies() {
	m.proxies.mu.Lock()
	all := m.proxies.byID
	m.proxies.byID = nil
	m.proxies.mu.Unlock()
	for _, p := range all {
		_ = p.Close()
	}
}

// SetPublish turns the publication of plugin ref for dockerd's legacy
// discovery on or off. It is kept with the plugin and applied at once if
// the plugin is enabled.
func (m *Manager) SetPublish(ref string, on bool) error {
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
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
	m.emit(p.ID, p.Name, types.ActionSet, map[string]string{"publish": v})
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
