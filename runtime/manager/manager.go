// Package manager is the managed-plugin lifecycle: create, enable, disable,
// set and remove, restarting crashed plugins with backoff and reattaching to
// running plugins after a daemon restart.
package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/archive"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/format/pluginname"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/store"
)

// Defaults for Options fields left zero.
const (
	DefaultEnableTimeout = 30 * time.Second
	DefaultStopGrace     = 10 * time.Second
	DefaultCgroupParent  = "/plugdbg"
	DefaultLogMaxSize    = 10 << 20
	DefaultLogMaxFiles   = 5

	backoffMin   = 100 * time.Millisecond
	backoffMax   = 30 * time.Second
	healthyAfter = 60 * time.Second
	tailLines    = 20
)

// Options configure a Manager.
type Options struct {
	DataRoot     string // e.g. /var/lib/plugdbg
	ExecRoot     string // e.g. /run/plugdbg
	Executor     Executor
	Log          *logrus.Logger
	StopGrace    time.Duration
	CgroupParent string
	LogMaxSize   int64 // per file; DefaultLogMaxSize if zero
	LogMaxFiles  int   // files kept per plugin; DefaultLogMaxFiles if zero
	// LogReserve is the free space of the data root that plugin logs
	// written there leave for the store's state (0: none), so that an
	// enable, disable or set is saved even when a plugin's output has
	// filled the disk.
	LogReserve int64
	// Registry pulls and pushes plugin images; one with default options
	// (plain HTTP for loopback registries only) if nil.
	Registry *distribution.Registry
	// PublishDir is where plugins are published for dockerd's legacy
	// discovery (discovery.DefaultDir if ""); PublishAll publishes every
	// enabled plugin, not only those set to (SetPublish).
	PublishDir string
	PublishAll bool
	// ObserveAll observes every plugin while it runs, not only those set
	// to (SetObserve): their calls are counted (CallStats).
	ObserveAll bool
	// ContextLimits bound the build context of Create; zero fields mean
	// archive.DefaultContextLimits.
	ContextLimits archive.ContextLimits
	// LogHub receives every line the plugins write, as the daemon reads
	// them, for followers (follow.Follower); a hub of its own, that no one
	// follows, if nil.
	LogHub *logs.Hub
	// Observer, if set, is told of every event and of each enable's
	// duration, for metrics.
	Observer Observer
}

// Manager runs managed plugins. All methods are safe for concurrent use;
// operations on one plugin are serialised.
type Manager struct {
	opts  Options
	store *store.Store
	log   *logrus.Logger

	mu       sync.Mutex
	plugins  map[string]*entry // by ID
	creating map[string]bool   // names reserved by creates in progress
	closing  bool

	events eventHub
	hub    *logs.Hub // live plugin lines, for followers

	traces  traceSessions // live traces of plugin sockets (trace.go)
	usage   usageTrackers // what traces saw holding each plugin (interop.go)
	proxies volumeProxies // volume plugins published for dockerd (interop.go)
}

type entry struct {
	op sync.Mutex // held for the whole of a lifecycle operation

	// Guarded by Manager.mu.
	p       plugin.Plugin
	state   types.State
	run     *pluginRun
	timer   *time.Timer
	backoff time.Duration
	removed bool
	// enabling is set while Enable persists a run that is already ready,
	// so that a crash before p.Enabled is set is restarted as a crash.
	enabling bool
	logOpts  map[string]string // as set with SetLogOpts; never changed in place
	observe  bool              // as set with SetObserve

	sessions execCounts // exec sessions, for metrics; atomics, not under mu
}

// pluginRun is one attached run of a plugin's container.
type pluginRun struct {
	conn      Run
	startedAt time.Time
	done      chan struct{} // closed once the run has ended
	exit      types.PluginExit

	// Guarded by Manager.mu.
	starting bool // enable or restart is still waiting for readiness
	stopping bool // the exit is expected
	ended    bool
	// execs counts the execs starting in the run: a stop waits for them,
	// so that no exec joins a container that is dying (exec.go).
	execs     int
	execsIdle chan struct{} // closed when execs drops to 0, if a stop waits

	unstored uint64 // the monitor's last Unstored count; pump only

	reportMu    sync.Mutex // guards the report of unstored lines
	unreported  uint64
	reportedAt  time.Time
	reportTimer *time.Timer

	tailMu sync.Mutex
	tail   []logs.Entry
}

// New opens the store and returns a manager. Call Restore to bring back
// plugins that were enabled.
func New(opts Options) (*Manager, error) {
	if opts.StopGrace == 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.LogMaxSize == 0 {
		opts.LogMaxSize = DefaultLogMaxSize
	}
	if opts.LogMaxFiles == 0 {
		opts.LogMaxFiles = DefaultLogMaxFiles
	}
	if opts.CgroupParent == "" {
		opts.CgroupParent = DefaultCgroupParent
	}
	if opts.Log == nil {
		opts.Log = logs.NewDaemonLogger()
	}
	if opts.Registry == nil {
		opts.Registry = distribution.New(distribution.Options{})
	}
	if opts.LogHub == nil {
		opts.LogHub = new(logs.Hub)
	}
	st, err := store.Open(filepath.Join(opts.DataRoot, "plugins"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.ExecRoot, "plugins"), 0o700); err != nil {
		return nil, fmt.Errorf("create exec root: %w", err)
	}
	return &Manager{
		opts: opts, store: st, log: opts.Log, hub: opts.LogHub,
		plugins: map[string]*entry{}, creating: map[string]bool{},
		events: eventHub{observer: opts.Observer},
	}, nil
}

func (m *Manager) socketDir(id string) string {
	return filepath.Join(m.opts.ExecRoot, "plugins", id)
}

func (m *Manager) logPath(id string) string {
	return filepath.Join(m.store.LogDir(id), "plugin.log")
}

func (m *Manager) socketPath(p plugin.Plugin) string {
	return filepath.Join(m.socketDir(p.ID), p.Config.Interface.Socket)
}

// find resolves a full ID, a name (":latest" implied) or a unique ID prefix,
// in Docker's order.
func (m *Manager) find(ref string) (*entry, error) {
	if ref == "" {
		// Before the prefix search, which "" would match with every ID.
		return nil, errkind.NotFound(fmt.Errorf("plugin %q not found", ref))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.plugins[ref]; ok {
		return e, nil
	}
	if name, err := pluginname.Normalize(ref); err == nil {
		for _, e := range m.plugins {
			if e.p.Name == name {
				return e, nil
			}
		}
	}
	var found *entry
	for id, e := range m.plugins {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errkind.Invalid(fmt.Errorf("multiple plugins found for %q", ref))
			}
			found = e
		}
	}
	if found == nil {
		return nil, errkind.NotFound(fmt.Errorf("plugin %q not found", ref))
	}
	return found, nil
}

// lock finds the plugin and takes its operation lock; it fails if the
// plugin was removed while waiting. It returns the plugin as it is then,
// which only the holder of the lock changes.
func (m *Manager) lock(ref string) (*entry, plugin.Plugin, error) {
	e, err := m.find(ref)
	if err != nil {
		return nil, plugin.Plugin{}, err
	}
	e.op.Lock()
	m.mu.Lock()
	removed, p := e.removed, e.p
	m.mu.Unlock()
	if removed {
		e.op.Unlock()
		return nil, plugin.Plugin{}, errkind.NotFound(fmt.Errorf("plugin %q not found", ref))
	}
	return e, p, nil
}

func (m *Manager) inspect(e *entry) types.Inspect {
	st := e.state
	st.Socket = m.socketPath(e.p)
	st.LogPath = m.logPath(e.p.ID)
	if e.p.Enabled {
		st.Published = m.published(e.p)
	}
	st.Observed = m.wantsObserve(e)
	return types.Inspect{Plugin: e.p, State: st, LogConfig: types.LogConfigView{Type: "plugdbg", Config: m.logLimits(e).Opts()}}
}

// Inspect returns one plugin.
func (m *Manager) Inspect(ref string) (types.Inspect, error) {
	e, err := m.find(ref)
	if err != nil {
		return types.Inspect{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inspect(e), nil
}

// List returns every plugin, sorted by name.
func (m *Manager) List() []types.Inspect {
	m.mu.Lock()
	out := make([]types.Inspect, 0, len(m.plugins))
	for _, e := range m.plugins {
		out = append(out, m.inspect(e))
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Create makes a disabled plugin named name from a build context tar (a
// config.json and a rootfs/ directory), as `docker plugin create` sends it.
// Unlike Docker it validates the config at once, so a broken plugin is
// refused here rather than at enable.
func (m *Manager) Create(ctx context.Context, name string, context io.Reader) (id string, retErr error) {
	if name == "" {
		return "", errkind.Invalid(errors.New("a plugin name is required"))
	}
	name, err := pluginname.Normalize(name)
	if err != nil {
		return "", errkind.Invalid(err)
	}
	m.mu.Lock()
	taken := m.creating[name]
	for _, e := range m.plugins {
		taken = taken || e.p.Name == name
	}
	if taken {
		m.mu.Unlock()
		return "", errkind.Conflict(fmt.Errorf("plugin %s already exists", name))
	}
	m.creating[name] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.creating, name)
		m.mu.Unlock()
	}()

	staging, err := m.store.NewStaging()
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			m.store.Discard(staging)
		}
	}()
	bc, err := archive.UnpackContextWithin(context, filepath.Join(staging, "rootfs"), m.opts.ContextLimits)
	if err != nil {
		return "", errkind.Invalid(fmt.Errorf("create %s: %w", name, err))
	}
	cfg, err := config.Parse(bc.Config, "config.json")
	if err != nil {
		return "", errkind.Invalid(fmt.Errorf("create %s: %w", name, err))
	}
	if err := config.Validate(cfg); err != nil {
		return "", errkind.Invalid(fmt.Errorf("create %s: config.json: %w", name, err))
	}
	if err := config.CheckEntrypoint(filepath.Join(staging, "rootfs"), cfg); err != nil {
		return "", errkind.Invalid(fmt.Errorf("create %s: %w", name, err))
	}
	cfg.Rootfs = &plugin.RootFS{Type: "layers", DiffIds: []string{bc.RootfsDigest}}
	p := plugin.Plugin{
		ID:              config.NewID(),
		Name:            name,
		PluginReference: name,
		Config:          cfg,
		Settings:        config.InitialSettings(cfg),
	}
	if err := m.store.Commit(staging, p); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.plugins[p.ID] = &entry{p: p, state: types.State{Status: types.StatusDisabled}, backoff: backoffMin}
	m.mu.Unlock()
	m.log.WithField("plugin", p.ID).Infof("created plugin %s", name)
	m.emit(p.ID, name, events.ActionCreate, nil)
	return p.ID, nil
}

// Enable starts a disabled plugin and waits until it answers
// Plugin.Activate, for at most timeout (DefaultEnableTimeout if zero). If
// the plugin exits first, Enable fails at once with its exit status and
// last output. A failed enable leaves the plugin disabled.
func (m *Manager) Enable(ctx context.Context, ref string, timeout time.Duration) error {
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	t0 := time.Now()
	if p.Enabled {
		return errkind.Conflict(fmt.Errorf("plugin already enabled: plugin %s is enabled", p.Name))
	}
	if timeout <= 0 {
		timeout = DefaultEnableTimeout
	}
	ctx, cancel := context.WithTimeout(withWaitTimeout(ctx, timeout), timeout)
	defer cancel()
	m.mu.Lock()
	e.state.RestartCount = 0
	e.backoff = backoffMin
	e.enabling = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		e.enabling = false
		m.mu.Unlock()
	}()
	if err := m.start(ctx, e); err != nil {
		m.mu.Lock()
		e.state.Error = err.Error()
		e.state.Status = types.StatusDisabled
		m.mu.Unlock()
		return fmt.Errorf("enable %s: %w", p.Name, err)
	}
	p.Enabled = true
	if err := m.store.Save(p); err != nil {
		m.stop(e, m.opts.StopGrace)
		return fmt.Errorf("enable %s: %w", p.Name, err)
	}
	m.mu.Lock()
	e.p.Enabled = true
	e.enabling = false
	e.state.Error = ""
	m.mu.Unlock()
	if m.opts.Observer != nil {
		m.opts.Observer.Enabled(time.Since(t0))
	}
	m.emit(p.ID, p.Name, events.ActionEnable, nil)
	m.publish(p)
	return nil
}

// Disable stops an enabled plugin: SIGTERM, then SIGKILL after the grace
// period (at once with force).
func (m *Manager) Disable(ctx context.Context, ref string, force bool) error {
	e, _, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	return m.disable(e, force)
}

func (m *Manager) disable(e *entry, force bool) error {
	m.mu.Lock()
	p := e.p
	m.mu.Unlock()
	if !p.Enabled {
		return errkind.Conflict(fmt.Errorf("plugin is already disabled: plugin %s found but disabled", p.Name))
	}
	grace := m.opts.StopGrace
	if force {
		grace = 0
	}
	m.unpublish(p)
	// The state is saved while the plugin stops: the one waits for the
	// disk, the other for the plugin and its monitor, so a disable takes
	// the longer of the two rather than their sum. A daemon killed in
	// between leaves a plugin recorded disabled that may still run, which
	// the next one stops (Restore), as it stops one whose enable was cut
	// short.
	disabled := p
	disabled.Enabled = false
	t0 := time.Now()
	var saveTook time.Duration
	saved := make(chan error, 1)
	go func() {
		err := m.store.Save(disabled)
		saveTook = time.Since(t0)
		saved <- err
	}()
	stopErr := m.stop(e, grace)
	stopTook := time.Since(t0)
	saveErr := <-saved
	m.log.WithField("plugin", p.ID).Debugf("disable: stopped in %s, state saved in %s", stopTook, saveTook)
	if stopErr != nil && !m.stopped(e) {
		// It runs on, so it stays enabled, on disk too.
		if saveErr == nil {
			if err := m.store.Save(p); err != nil {
				m.mu.Lock()
				e.state.Error = fmt.Sprintf("still running, but saved as disabled (%v): a daemon restart stops it", err)
				m.mu.Unlock()
			}
		}
		m.publish(p)
		return fmt.Errorf("disable %s: %w; it is still enabled and running", p.Name, stopErr)
	}
	p = disabled
	// The plugin is stopped whether or not that was saved: inspect shows
	// what runs, and says what the store still holds.
	m.mu.Lock()
	e.p.Enabled = false
	e.state.Status = types.StatusDisabled
	e.state.Pid = 0
	e.state.StartedAt = nil
	e.state.NextRestart = nil
	if saveErr != nil {
		e.state.Error = fmt.Sprintf("stopped, but not saved as disabled (%v): a daemon restart enables it again", saveErr)
	}
	m.mu.Unlock()
	if saveErr != nil {
		return fmt.Errorf("disable %s: the plugin is stopped, but its state could not be saved, so a daemon restart would enable it again: %w", p.Name, saveErr)
	}
	m.emit(p.ID, p.Name, events.ActionDisable, nil)
	return nil
}

// stopped reports whether e's run has ended after a stop that gave up
// waiting. If not, the plugin still runs and stays enabled: the run is no
// longer stopping, so that its exit, should the stop take effect later, is
// restarted like any other of an enabled plugin. Caller holds e.op.
func (m *Manager) stopped(e *entry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := e.run
	if r == nil || r.ended {
		return true
	}
	r.stopping = false
	e.state.Status = types.StatusRunning
	return false
}

// Remove deletes a disabled plugin, or with force an enabled one.
func (m *Manager) Remove(ctx context.Context, ref string, force bool) error {
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	if p.Enabled {
		if !force {
			return errkind.Conflict(fmt.Errorf("plugin %s is enabled", p.Name))
		}
		if err := m.disable(e, true); err != nil {
			m.log.WithField("plugin", p.ID).WithError(err).Warn("disable before remove")
		}
	}
	// What runs left on the host (the socket dir, the monitor dir with the
	// last run's record, cgroups) goes while the store renames the plugin
	// away: neither waits for the other, and a daemon killed before both
	// are done leaves what the next one removes at start (a plugin not in
	// the store has its leftovers removed; a half-removed one is deleted).
	t0 := time.Now()
	var leftTook time.Duration
	left := make(chan struct{})
	go func() {
		defer close(left)
		_ = os.RemoveAll(m.socketDir(p.ID))
		_ = m.opts.Executor.Cleanup(p.ID)
		leftTook = time.Since(t0)
	}()
	_ = unmountAll(m.store.PropagatedMount(p.ID))
	err = m.store.Remove(p.ID)
	stored := time.Since(t0)
	<-left
	m.log.WithField("plugin", p.ID).Debugf("remove: gone from the store in %s, run's leftovers removed in %s", stored, leftTook)
	if err != nil {
		return err
	}
	m.mu.Lock()
	e.removed = true
	delete(m.plugins, p.ID)
	m.mu.Unlock()
	m.hub.Forget(p.ID)
	m.usage.forget(p.ID)
	m.emit(p.ID, p.Name, events.ActionRemove, nil)
	return nil
}

// Set changes settings of a disabled plugin, with Docker's rules.
func (m *Manager) Set(ref string, args []string) error {
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	if p.Enabled {
		return config.ErrSetActive
	}
	p = clonePlugin(p)
	if err := config.Set(&p, args); err != nil {
		return errkind.Invalid(err)
	}
	if err := m.store.Save(p); err != nil {
		return err
	}
	m.mu.Lock()
	e.p = p
	m.mu.Unlock()
	m.emit(p.ID, p.Name, types.ActionSet, map[string]string{"settings": strings.Join(args, " ")})
	return nil
}

// clonePlugin deep-copies p, so that a failed Set leaves nothing changed.
func clonePlugin(p plugin.Plugin) plugin.Plugin {
	var out plugin.Plugin
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &out)
	return out
}
