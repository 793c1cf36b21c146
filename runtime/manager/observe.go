package manager

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// ObservingExecutor is an Executor whose runs can be observed: a recording point in
// each run's monitor counts and times the plugin's calls (package
// observe), and keeps counting while no daemon runs. MonitorExecutor is
// one; under an executor that is not, observed plugins run unobserved and
// say so in their State.ObserveError.
type ObservingExecutor interface {
	// Observe puts the recording point of plugin id's run on (waiting,
	// until ctx ends, for it to be in place) or off.
	Observe(ctx context.Context, id string, on bool) (monitor.ObserveStatus, error)
	// Calls reads the counters of plugin id's run.
	Calls(ctx context.Context, id string) (types.CallStats, error)
}

// observeTimeout bounds turning a running plugin's recording point on or
// off, and a reattached daemon's check of it.
const observeTimeout = 10 * time.Second

// errCannotObserve is the state of observed plugins under an executor
// that is no ObservingExecutor.
var errCannotObserve = errors.New("this daemon's executor cannot observe plugins")

// wantsObserve reports whether plugin e is to be observed while it runs.
// Caller holds m.mu.
func (m *Manager) wantsObserve(e *entry) bool { return m.opts.ObserveAll || e.observe }

// SetObserve turns the observation of plugin ref on or off. It is kept
// with the plugin and applied at once if it runs, without a restart:
// turned on, it returns once the recording point is in place; turned off,
// once the plugin's own socket is back at its path (connections open
// through the point go on, and are counted, until their clients close
// them). The daemon's ObserveAll observes every plugin whatever this says.
func (m *Manager) SetObserve(ctx context.Context, ref string, on bool) error {
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	o, err := m.store.Opts(p.ID)
	if err != nil {
		return err
	}
	o.Observe = on
	if err := m.store.SaveOpts(p.ID, o); err != nil {
		return err
	}
	m.mu.Lock()
	e.observe = on
	want := m.wantsObserve(e)
	r := e.run
	m.mu.Unlock()
	v := "false"
	if on {
		v = "true"
	}
	m.emit(p.ID, p.Name, types.ActionSet, map[string]string{"observe": v})
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	st, err := m.applyObserve(ctx, e, want)
	switch {
	case err != nil:
		return fmt.Errorf("observe %s: %w", p.Name, err)
	case want && !st.Recording:
		return fmt.Errorf("observe %s: the recording point is not in place: %s", p.Name, st.Error)
	}
	if want != on {
		m.log.WithField("plugin", p.ID).Infof("plugin %s stays observed: the daemon observes every plugin (--observe-all)", p.Name)
	}
	return nil
}

// applyObserve asks plugin e's run to put its recording point on or off,
// and records in e's State what it reports.
func (m *Manager) applyObserve(ctx context.Context, e *entry, on bool) (monitor.ObserveStatus, error) {
	m.mu.Lock()
	id := e.p.ID
	m.mu.Unlock()
	var st monitor.ObserveStatus
	obs, ok := m.opts.Executor.(ObservingExecutor)
	err := errCannotObserve
	if ok {
		st, err = obs.Observe(ctx, id, on)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e.state.Recording = err == nil && st.Recording
	e.state.ObserveError = ""
	switch {
	case err != nil && on:
		e.state.ObserveError = err.Error()
	case st.Error != "":
		e.state.ObserveError = st.Error
	}
	return st, err
}

// startObserving puts the recording point on a starting plugin's socket,
// which it has just created, before the enable calls Plugin.Activate: an
// observed plugin is ready once every call on its path is counted. Under
// an executor that cannot observe, the plugin runs unobserved, as its
// State.ObserveError says.
func (m *Manager) startObserving(ctx context.Context, e *entry) error {
	st, err := m.applyObserve(ctx, e, true)
	if errors.Is(err, errCannotObserve) {
		return nil
	}
	if err == nil && !st.Recording {
		err = errors.New(st.Error)
	}
	if err != nil {
		return fmt.Errorf("observe: put the recording point on the plugin's socket: %w (plugdbg observe --off runs it unobserved)", err)
	}
	return nil
}

// reobserve brings the recording point of a run this daemon reattached to
// in line with what it wants: an earlier daemon may have observed it
// otherwise (--observe-all then, not now), or died while it changed it.
func (m *Manager) reobserve(e *entry) {
	m.mu.Lock()
	want, id := m.wantsObserve(e), e.p.ID
	m.mu.Unlock()
	if _, ok := m.opts.Executor.(ObservingExecutor); !ok && !want {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), observeTimeout)
	defer cancel()
	st, err := m.applyObserve(ctx, e, want)
	switch {
	case err != nil:
		m.log.WithField("plugin", id).WithError(err).Warn("observe: the recording point of the reattached plugin")
	case want && !st.Recording:
		m.log.WithField("plugin", id).Warnf("observe: the recording point of the reattached plugin is not in place: %s", st.Error)
	}
}

// Calls returns the counters of running plugin ref's calls, as its
// recording point counted them since its run began (types.CallStats), read
// from its monitor now. A plugin that is not observed has the counters of
// the times it was during this run, if any.
func (m *Manager) Calls(ctx context.Context, ref string) (types.CallStats, error) {
	e, err := m.running(ref, "read the calls of")
	if err != nil {
		return types.CallStats{}, err
	}
	obs, ok := m.opts.Executor.(ObservingExecutor)
	if !ok {
		return types.CallStats{}, errkind.NotImplemented(errCannotObserve)
	}
	m.mu.Lock()
	id, name := e.p.ID, e.p.Name
	m.mu.Unlock()
	c, err := obs.Calls(ctx, id)
	if err != nil {
		return types.CallStats{}, fmt.Errorf("read the calls of %s: %w", name, err)
	}
	c.Plugin, c.Name = id, name
	return c, nil
}

// CallStats returns the counters of the calls of every running plugin that
// is observed, or whose recording point is in place, sorted by name: the
// hook for metrics, read at scrape time. Each plugin's counters come from
// its monitor, concurrently, at the time of the call; they are monotonic
// for as long as CallStats.Since stays the same (a new run of a plugin
// starts from zero with a new Since), daemon restarts included. Plugins
// whose monitor cannot be read are left out, and their errors joined in
// the error returned beside the others' counters. ctx bounds the reads.
func (m *Manager) CallStats(ctx context.Context) ([]types.CallStats, error) {
	obs, ok := m.opts.Executor.(ObservingExecutor)
	if !ok {
		return nil, nil
	}
	type target struct{ id, name string }
	var targets []target
	m.mu.Lock()
	for _, e := range m.plugins {
		if r := e.run; r != nil && !r.ended && !r.starting && (m.wantsObserve(e) || e.state.Recording) {
			targets = append(targets, target{e.p.ID, e.p.Name})
		}
	}
	m.mu.Unlock()
	out := make([]types.CallStats, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			c, err := obs.Calls(ctx, t.id)
			if err != nil {
				errs[i] = fmt.Errorf("read the calls of %s: %w", t.name, err)
				return
			}
			c.Plugin, c.Name = t.id, t.name
			out[i] = c
		})
	}
	wg.Wait()
	kept := out[:0]
	for i, c := range out {
		if errs[i] == nil {
			kept = append(kept, c)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	return kept, errors.Join(errs...)
}
