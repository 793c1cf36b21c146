package dockerobserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/moby/moby/api/types/plugin"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/atomicfile"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// Options configure a Manager.
type Options struct {
	// Dir holds the helpers' files: <exec-root>/docker-observe.
	Dir string
	// StateFile keeps which docker plugins are observed:
	// <data-root>/docker-observe.json.
	StateFile string
	// Binary is the daemon's binary, which helpers are started from.
	Binary string
	// Docker is the dockerd whose plugins are observed.
	Docker *dockerd.Host
	Log    logrus.FieldLogger
}

// Target is an observed docker plugin, as the state file keeps it.
type Target struct {
	Name   string `json:"Name"`
	Socket string `json:"Socket"`
}

// savedState is the state file.
type savedState struct {
	Plugins map[string]Target `json:"Plugins"` // by plugin ID
}

// maxState bounds the state file: a few hundred bytes per plugin.
const maxState = 4 << 20

// Restarts of a helper that died: the first after minRestart, doubling up
// to maxRestart while it keeps dying within healthyRun of its start.
const (
	minRestart = time.Second
	maxRestart = time.Minute
	healthyRun = time.Minute
)

// Manager is the daemon's side of observed docker plugins: which are
// observed, and their helpers. Safe for concurrent use.
type Manager struct {
	o    Options
	log  logrus.FieldLogger
	life context.Context // the watchers' and restarts'; ended by Run's end
	stop context.CancelFunc

	// mu serializes every change: the observed set, starting, ending and
	// cleaning up helpers. Reading counters takes it only to copy the set.
	mu       sync.Mutex
	want     map[string]Target    // observed plugins by ID
	watching map[string]uint64    // helpers watched, by plugin ID: the watch's generation
	gen      uint64               // the last generation given
	started  map[string]time.Time // when each helper was started by this daemon
	delay    map[string]time.Duration
}

// New returns the manager of observed docker plugins, with the set kept in
// o.StateFile. It starts nothing: Run does, and reconciles helpers with
// the set and dockerd.
func New(o Options) (*Manager, error) {
	if o.Docker == nil || o.Binary == "" || o.Dir == "" || o.StateFile == "" {
		return nil, errors.New("docker observe: a dockerd, a binary, a directory and a state file are required")
	}
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Log = l
	}
	want, err := loadState(o.StateFile)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	return &Manager{o: o, log: o.Log, life: life, stop: stop, want: want,
		watching: map[string]uint64{}, started: map[string]time.Time{}, delay: map[string]time.Duration{}}, nil
}

func loadState(path string) (map[string]Target, error) {
	want := map[string]Target{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return want, nil
	}
	if err != nil {
		return nil, fmt.Errorf("docker observe: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxState+1))
	if err != nil {
		return nil, fmt.Errorf("docker observe: read %s: %w", path, err)
	}
	if len(data) > maxState {
		return nil, fmt.Errorf("docker observe: %s is over %d bytes", path, maxState)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("docker observe: parse %s: %w", path, err)
	}
	for id, t := range st.Plugins {
		if (Config{ID: id, Name: t.Name, Socket: t.Socket}).check() == nil {
			want[id] = t
		}
	}
	return want, nil
}

// save writes the observed set. Caller holds m.mu.
func (m *Manager) save() error {
	return atomicfile.WriteJSON(m.o.StateFile, savedState{Plugins: m.want}, 0o600)
}

func (m *Manager) files(id string) files { return files{m.o.Dir, id} }

// Observed reports whether dockerd's plugin id is set to be observed.
func (m *Manager) Observed(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.want[id]
	return ok
}

// Set turns the observation of dockerd's plugin p (as just inspected) on
// or off. It is kept in the state file. On an enabled plugin it is applied
// at once: turned on, Set returns once the point is in place; turned off,
// once the plugin's own socket is back at its path.
func (m *Manager) Set(ctx context.Context, p plugin.Plugin, on bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, had := m.want[p.ID]
	if on {
		t := Target{Name: p.Name, Socket: m.o.Docker.Socket(p)}
		if err := (Config{ID: p.ID, Name: t.Name, Socket: t.Socket}).check(); err != nil {
			return errkind.Invalid(fmt.Errorf("observe %s%s: %w", dockerd.Prefix, p.Name, err))
		}
		m.want[p.ID] = t
	} else {
		delete(m.want, p.ID)
	}
	if err := m.save(); err != nil {
		if had {
			m.want[p.ID] = old
		} else {
			delete(m.want, p.ID)
		}
		return fmt.Errorf("observe %s%s: %w", dockerd.Prefix, p.Name, err)
	}
	st, err := m.apply(ctx, p.ID, map[string]plugin.Plugin{p.ID: p})
	switch {
	case err != nil:
		return fmt.Errorf("observe %s%s: %w", dockerd.Prefix, p.Name, err)
	case on && p.Enabled && !st.Recording:
		return fmt.Errorf("observe %s%s: the recording point is not in place: %s", dockerd.Prefix, p.Name, st.Error)
	}
	return nil
}

// Calls returns the counters of dockerd's plugin p's calls, from its
// helper: since the helper started, across the plugin's restarts. A
// plugin that is not observed has none (Observed false).
func (m *Manager) Calls(ctx context.Context, p plugin.Plugin) (types.CallStats, error) {
	if !m.Observed(p.ID) {
		return types.CallStats{Plugin: p.ID, Name: p.Name, Methods: []types.MethodCalls{}}, nil
	}
	c, err := m.files(p.ID).calls(ctx)
	if errors.Is(err, errNoHelper) {
		return c, errkind.Unavailable(fmt.Errorf("read the calls of %s%s: its recording point's helper does not run (the daemon starts it again): %w", dockerd.Prefix, p.Name, err))
	}
	if err != nil {
		return c, fmt.Errorf("read the calls of %s%s: %w", dockerd.Prefix, p.Name, err)
	}
	c.Plugin, c.Name = p.ID, p.Name
	return c, nil
}

// Status returns whether dockerd's plugin p is observed and its point's
// state, for inspect: a disabled plugin has no point, and says nothing
// more.
func (m *Manager) Status(ctx context.Context, p plugin.Plugin) (observed bool, st Status) {
	if !m.Observed(p.ID) {
		return false, Status{}
	}
	if !p.Enabled {
		return true, Status{}
	}
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	c, err := m.files(p.ID).calls(ctx)
	if err != nil {
		return true, Status{Error: err.Error()}
	}
	return true, Status{Recording: c.Recording, Error: c.Error}
}

// CallStats returns the counters of every observed docker plugin whose
// helper runs, named "docker:NAME" (the metrics' plugin label), sorted by
// name: metrics.CallSource's. The helpers are read concurrently, within
// ctx; those that cannot be read are left out and their errors joined.
func (m *Manager) CallStats(ctx context.Context) ([]types.CallStats, error) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.want))
	targets := make([]Target, 0, len(m.want))
	for id, t := range m.want {
		ids, targets = append(ids, id), append(targets, t)
	}
	m.mu.Unlock()
	out := make([]types.CallStats, len(ids))
	errs := make([]error, len(ids))
	ok := make([]bool, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			c, err := m.files(id).calls(ctx)
			switch {
			case errors.Is(err, errNoHelper):
				// Disabled in dockerd, or its helper is starting again.
			case err != nil:
				errs[i] = fmt.Errorf("read the calls of %s%s: %w", dockerd.Prefix, targets[i].Name, err)
			default:
				c.Plugin, c.Name = id, dockerd.Prefix+targets[i].Name
				out[i], ok[i] = c, true
			}
		})
	}
	wg.Wait()
	kept := out[:0]
	for i, c := range out {
		if ok[i] {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	return kept, errors.Join(errs...)
}

// Run reconciles the helpers with the observed set and dockerd now, and
// again at each of dockerd's plugin events (an enable, a disable, a
// removal), until ctx ends. While dockerd does not answer it retries, and
// keeps a helper running for every observed plugin: helpers follow their
// plugin's socket whatever dockerd does meanwhile.
func (m *Manager) Run(ctx context.Context) {
	defer m.stop()
	delay := minRestart
	for {
		evs, err := m.o.Docker.PluginEvents(ctx)
		// Subscribed first: an event from now on is not missed.
		m.Reconcile(ctx)
		if err == nil {
			delay = minRestart
			for {
				if _, err := evs.Next(); err != nil {
					break
				}
				m.Reconcile(ctx)
			}
			evs.Close()
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// Reconcile makes the helpers match the observed set and dockerd: what
// inspect says is what runs. A plugin dockerd no longer has is no longer
// observed; an observed plugin dockerd has enabled has a helper; every
// other helper is ended (its point taken off, the plugin's socket put
// back), and what a killed helper left is undone. When dockerd does not
// answer, nothing is dropped, and every observed plugin gets a helper.
func (m *Manager) Reconcile(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var known map[string]plugin.Plugin // nil: dockerd did not answer
	if ps, err := m.o.Docker.Plugins(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		m.log.WithError(err).Debug("docker observe: reconcile without dockerd")
	} else {
		known = make(map[string]plugin.Plugin, len(ps))
		for _, p := range ps {
			known[p.ID] = p
		}
		changed := false
		for id, t := range m.want {
			p, ok := known[id]
			if !ok {
				m.log.WithField("plugin", id).Infof("docker observe: dockerd no longer has plugin %s: it is no longer observed", t.Name)
				delete(m.want, id)
				changed = true
				continue
			}
			if sock := m.o.Docker.Socket(p); sock != t.Socket || p.Name != t.Name {
				m.want[id] = Target{Name: p.Name, Socket: sock}
				changed = true
			}
		}
		if changed {
			if err := m.save(); err != nil {
				m.log.WithError(err).Warn("docker observe: save the observed plugins")
			}
		}
	}
	ids := map[string]bool{}
	for id := range m.want {
		ids[id] = true
	}
	for _, id := range m.helperIDs() {
		ids[id] = true
	}
	for id := range ids {
		if ctx.Err() != nil {
			return
		}
		if _, err := m.apply(ctx, id, known); err != nil {
			m.log.WithField("plugin", id).WithError(err).Warn("docker observe")
		}
	}
}

// helperIDs lists the plugins that have helper files in the directory.
// Caller holds m.mu.
func (m *Manager) helperIDs() []string {
	ents, err := os.ReadDir(m.o.Dir)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if len(name) > 64 && pluginID.MatchString(name[:64]) && name[64] == '.' && !seen[name[:64]] {
			seen[name[:64]] = true
			out = append(out, name[:64])
		}
	}
	return out
}

// apply makes plugin id's helper what it should be: running if the plugin
// is observed and enabled (known nil: dockerd's word unknown, observed is
// enough), on the socket the set says; ended otherwise. It returns the
// point's state if a helper runs. Caller holds m.mu.
func (m *Manager) apply(ctx context.Context, id string, known map[string]plugin.Plugin) (Status, error) {
	t, run := m.want[id]
	if known != nil {
		p, ok := known[id]
		run = run && ok && p.Enabled
	}
	f := m.files(id)
	askCtx, cancel := context.WithTimeout(ctx, askTimeout)
	c, err := f.calls(askCtx)
	cancel()
	alive := err == nil
	if alive && run {
		if cfg, err := readConfig(f); err == nil && cfg.Socket == t.Socket {
			m.watch(id)
			return Status{Recording: c.Recording, Error: c.Error}, nil
		}
		// Observing another socket (dockerd's plugin changed its
		// config): a new helper takes the new one.
	}
	if alive {
		if err := m.end(ctx, id); err != nil {
			return Status{}, err
		}
	} else if err := m.clean(id); errors.Is(err, errBusy) {
		return Status{}, fmt.Errorf("a helper holds %s but does not answer on %s", f.lock(), f.sock())
	} else if err != nil {
		return Status{}, err
	}
	if !run {
		return Status{}, nil
	}
	return m.start(ctx, id, t)
}

// start starts plugin id's helper. Caller holds m.mu.
func (m *Manager) start(ctx context.Context, id string, t Target) (Status, error) {
	st, err := startHelper(ctx, m.o.Binary, m.files(id), Config{ID: id, Name: t.Name, Socket: t.Socket})
	if err != nil {
		return st, fmt.Errorf("start the recording point of %s%s: %w", dockerd.Prefix, t.Name, err)
	}
	m.started[id] = time.Now()
	m.watch(id)
	m.log.WithField("plugin", id).Infof("docker observe: recording point's helper started for %s%s", dockerd.Prefix, t.Name)
	return st, nil
}

// end ends plugin id's helper, which puts the plugin's socket back. Caller
// holds m.mu.
func (m *Manager) end(ctx context.Context, id string) error {
	delete(m.watching, id) // its watcher learns that the end was asked for
	ctx, cancel := context.WithTimeout(ctx, endTimeout)
	defer cancel()
	err := m.files(id).end(ctx)
	if errors.Is(err, errNoHelper) {
		return m.clean(id)
	}
	if err != nil {
		return fmt.Errorf("end the recording point's helper: %w", err)
	}
	m.log.WithField("plugin", id).Info("docker observe: recording point's helper ended, the plugin's socket is back")
	return nil
}

// clean undoes what a helper that no longer runs left of plugin id: the
// plugin's socket goes back where its record says, and its files go.
// errBusy if a helper holds the lock (one is starting, or does not
// answer). Caller holds m.mu.
func (m *Manager) clean(id string) error {
	f := m.files(id)
	if _, err := os.Stat(f.lock()); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(f.record()); errors.Is(err, os.ErrNotExist) {
			for _, p := range []string{f.config(), f.sock(), f.log()} {
				_ = os.Remove(p)
			}
			return nil // nothing left that matters
		}
	}
	lock, err := lockFile(f.lock())
	if err != nil {
		return err
	}
	defer unlock(f.lock(), lock)
	log := m.log.WithField("plugin", id)
	if err := repair(f.record(), func(format string, args ...any) { log.Infof("docker observe: "+format, args...) }); err != nil {
		return fmt.Errorf("undo what the helper left: %w", err)
	}
	if _, err := os.Stat(f.log()); err == nil {
		log.Warnf("docker observe: a recording point's helper ended without being asked to; its last words: %s", logTail(f.log()))
	}
	for _, p := range []string{f.config(), f.sock(), f.log()} {
		_ = os.Remove(p)
	}
	return nil
}

// watch watches plugin id's helper until it ends, unless it is watched
// already. Caller holds m.mu.
func (m *Manager) watch(id string) {
	if _, ok := m.watching[id]; ok {
		return
	}
	m.gen++
	gen := m.gen
	m.watching[id] = gen
	go func() {
		reason, err := m.files(id).wait(m.life)
		if m.life.Err() != nil {
			return
		}
		m.gone(id, gen, reason, err)
	}()
}

// gone handles the end of plugin id's helper, watched as generation gen,
// that nobody asked for (a kill, a signal): what it left is undone, and it
// is started again after a delay if its plugin is still observed.
func (m *Manager) gone(id string, gen uint64, reason string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watching[id] != gen {
		return // ended by this daemon, or superseded
	}
	delete(m.watching, id)
	log := m.log.WithField("plugin", id)
	if err != nil {
		reason = "killed? " + err.Error()
	}
	log.Warnf("docker observe: the recording point's helper ended (%s)", reason)
	if err := m.clean(id); err != nil && !errors.Is(err, errBusy) {
		log.WithError(err).Warn("docker observe")
	}
	if _, ok := m.want[id]; !ok {
		return
	}
	d := m.delay[id]
	if time.Since(m.started[id]) >= healthyRun || d == 0 {
		d = minRestart
	} else {
		d = min(2*d, maxRestart)
	}
	m.delay[id] = d
	log.Infof("docker observe: starting its helper again in %s", d)
	time.AfterFunc(d, func() {
		if m.life.Err() == nil {
			m.Reconcile(m.life)
		}
	})
}

// readConfig reads the config a helper was started with.
func readConfig(f files) (Config, error) {
	var cfg Config
	data, err := readBounded(f.config())
	if err != nil {
		return cfg, err
	}
	return cfg, json.Unmarshal(data, &cfg)
}
