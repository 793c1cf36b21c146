package series

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// fakeSource is a daemon whose plugins, call counters and line counts the
// test sets between samples.
type fakeSource struct {
	mu      sync.Mutex
	plugins []types.Inspect
	calls   map[string]types.CallStats // by ID: running observed plugins
	lines   map[string]logs.LineCounts
	err     error
}

func newFake(ids ...string) *fakeSource {
	f := &fakeSource{calls: map[string]types.CallStats{}, lines: map[string]logs.LineCounts{}}
	for _, id := range ids {
		f.add(id, true)
	}
	return f
}

func (f *fakeSource) add(id string, recording bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var p types.Inspect
	p.ID, p.Name = id, id+":latest"
	p.State.Recording = recording
	f.plugins = append(f.plugins, p)
}

func (f *fakeSource) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.plugins {
		if p.ID == id {
			f.plugins = append(f.plugins[:i], f.plugins[i+1:]...)
			break
		}
	}
	delete(f.calls, id)
}

func (f *fakeSource) List() []types.Inspect {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]types.Inspect(nil), f.plugins...)
}

func (f *fakeSource) CallStats(context.Context) ([]types.CallStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []types.CallStats
	for _, c := range f.calls {
		out = append(out, c)
	}
	return out, f.err
}

func (f *fakeSource) Counts() map[string]logs.LineCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]logs.LineCounts{}
	for k, v := range f.lines {
		out[k] = v
	}
	return out
}

// setCalls sets plugin id's counters of its run since since: method
// called n times, fails of them with "500", every call under 1 ms.
func (f *fakeSource) setCalls(id string, since time.Time, method string, n, fails uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls[id]
	if !c.Since.Equal(since) {
		c = types.CallStats{Plugin: id, Name: id + ":latest", Observed: true, Recording: true, Since: since}
	}
	m := types.MethodCalls{Method: method, Count: n, Statuses: map[string]uint64{"200": n - fails}, Buckets: make([]uint64, len(types.CallLatencyBuckets))}
	if fails > 0 {
		m.Statuses["500"] = fails
	}
	for i := 3; i < len(m.Buckets); i++ { // CallLatencyBuckets[3] is 1 ms
		m.Buckets[i] = n
	}
	var ms []types.MethodCalls
	for _, o := range c.Methods {
		if o.Method != method {
			ms = append(ms, o)
		}
	}
	c.Methods = append(ms, m)
	f.calls[id] = c
}

func (f *fakeSource) setLines(id string, stdout, stderr uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines[id] = logs.LineCounts{StdoutLines: stdout, StderrLines: stderr}
}

// t0 is the injected clock's start, on a multiple of Step.
var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// at is the time of step k, a little after the step's end, as the
// sampler's timer fires.
func at(k int) time.Time { return t0.Add(time.Duration(k)*Step + 3*time.Millisecond) }

// newStore returns a Store whose log the test discards. Tests sample a
// fakeSource (its sources) at the times they give: the injected clock.
func newStore() *Store {
	log, _ := logtest.NewNullLogger()
	return New(log)
}

func (f *fakeSource) sources() Sources { return Sources{Plugins: f, Calls: f, Lines: f} }

func method(w SeriesWindow, name string) *MethodSeries {
	for i := range w.Methods {
		if w.Methods[i].Method == name {
			return &w.Methods[i]
		}
	}
	return nil
}

func values(vs []Value) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = float64(v)
	}
	return out
}

func TestSampleRatesAndQuantiles(t *testing.T) {
	f := newFake("p1")
	run := t0.Add(-time.Hour)
	f.setCalls("p1", run, "VolumeDriver.List", 100, 0)
	f.setLines("p1", 40, 2)
	s := newStore()
	ctx := context.Background()

	s.Sample(ctx, f.sources(), at(0))
	assert.Empty(t, s.Window("p1").Times, "the first sample only takes the counters")

	f.setCalls("p1", run, "VolumeDriver.List", 125, 5) // 25 calls, 5 failed
	f.setLines("p1", 50, 2)                            // 10 lines
	s.Sample(ctx, f.sources(), at(1))
	f.setCalls("p1", run, "VolumeDriver.Mount", 1, 0)
	s.Sample(ctx, f.sources(), at(2))

	w := s.Window("p1")
	assert.Equal(t, 5, w.Step)
	assert.Equal(t, []int64{t0.Add(Step).Unix(), t0.Add(2 * Step).Unix()}, w.Times, "points at the steps' ends")
	assert.Equal(t, []float64{2, 0}, values(w.Lines), "log lines/s")
	assert.Equal(t, []uint32{0, 0}, w.Restarts)
	require.Len(t, w.Methods, 2)
	list := method(w, "VolumeDriver.List")
	require.NotNil(t, list)
	assert.Equal(t, []float64{5, 0}, values(list.Calls), "calls/s")
	assert.Equal(t, []float64{1, 0}, values(list.Errors), "errors/s")
	// Every call took at most 1 ms (and more than 0.5 ms): the median is
	// interpolated halfway into that bucket.
	assert.InDelta(t, 0.00075, float64(list.P50[0]), 1e-9)
	assert.InDelta(t, 0.0005+0.0005*0.99, float64(list.P99[0]), 1e-6)
	assert.True(t, math.IsNaN(float64(list.P50[1])), "no call, no latency")
	mount := method(w, "VolumeDriver.Mount")
	require.NotNil(t, mount)
	assert.Equal(t, []float64{0, 0.2}, values(mount.Calls), "a method first called later")
}

// TestSampleCounterReset: a new run of the plugin (a crash restart) counts
// from zero with a new Since, and the new run's counts are the step's.
func TestSampleCounterReset(t *testing.T) {
	f := newFake("p1")
	run1 := t0.Add(-time.Hour)
	f.setCalls("p1", run1, "M", 1000, 0)
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))
	f.setCalls("p1", run1.Add(time.Minute), "M", 10, 0) // restarted: 10 calls since
	s.Sample(ctx, f.sources(), at(1))
	f.setCalls("p1", run1.Add(time.Minute), "M", 15, 0)
	s.Sample(ctx, f.sources(), at(2))
	assert.Equal(t, []float64{2, 1}, values(method(s.Window("p1"), "M").Calls))
}

// TestSampleFirstSight: the calls of a plugin first seen after the first
// sample are all the step's if it was created or began recording since;
// one that was recording but could not be read starts from its counters.
func TestSampleFirstSight(t *testing.T) {
	f := newFake("old")
	f.add("unread", true) // recording, but its counters cannot be read yet
	f.add("later", false) // running, not observed
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))

	f.add("new", true)
	f.setCalls("new", at(0).Add(time.Second), "M", 7, 0)
	f.setCalls("unread", t0.Add(-time.Hour), "M", 500, 0)
	f.setCalls("later", t0.Add(-time.Hour), "M", 3, 0) // observed since the last sample
	f.setLines("new", 5, 0)
	s.Sample(ctx, f.sources(), at(1))

	assert.Equal(t, []float64{1.4}, values(method(s.Window("new"), "M").Calls), "a new plugin's calls")
	assert.Equal(t, []float64{1}, values(s.Window("new").Lines), "a new plugin's lines")
	assert.Equal(t, []float64{0.6}, values(method(s.Window("later"), "M").Calls), "calls since observe")
	assert.Empty(t, s.Window("unread").Methods, "no jump from counters of unknown age")
	f.setCalls("unread", t0.Add(-time.Hour), "M", 510, 0)
	s.Sample(ctx, f.sources(), at(2))
	assert.Equal(t, []float64{0, 2}, values(method(s.Window("unread"), "M").Calls))
}

// TestSampleUnreadStepKeepsCounts: a step whose counters could not be
// read (the plugin was missing from CallStats) loses no call: the next
// point has them.
func TestSampleUnreadStepKeepsCounts(t *testing.T) {
	f := newFake("p1")
	run := t0.Add(-time.Hour)
	f.setCalls("p1", run, "M", 10, 0)
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))
	f.setCalls("p1", run, "M", 20, 0)
	saved := f.calls["p1"]
	delete(f.calls, "p1")
	f.err = errors.New("monitor of p1 does not answer")
	s.Sample(ctx, f.sources(), at(1))
	f.calls["p1"], f.err = saved, nil
	s.Sample(ctx, f.sources(), at(2))
	calls := values(method(s.Window("p1"), "M").Calls)
	assert.Equal(t, []float64{0, 2}, calls)
}

func TestSampleRestartsAndLogResets(t *testing.T) {
	f := newFake("p1", "p2")
	f.setLines("p1", 100, 100)
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))
	crash := func(id string) {
		s.Event(events.Message{Action: types.ActionRestarting, Actor: events.Actor{ID: id}})
	}
	crash("p1")
	crash("p1")
	s.Event(events.Message{Action: types.ActionExit, Actor: events.Actor{ID: "p1"}})
	crash("p2")
	f.setLines("p1", 3, 2) // the hub forgot the plugin and counts again
	s.Sample(ctx, f.sources(), at(1))
	crash("p1")
	s.Sample(ctx, f.sources(), at(2))
	assert.Equal(t, []uint32{2, 1}, s.Window("p1").Restarts)
	assert.Equal(t, []uint32{1, 0}, s.Window("p2").Restarts)
	assert.Equal(t, []float64{1, 0}, values(s.Window("p1").Lines))
}

// TestWindowIsBounded: the series hold the last Points steps; a page
// that asks for points after one no longer held must take the window.
func TestWindowIsBounded(t *testing.T) {
	f := newFake("p1")
	run := t0.Add(-time.Hour)
	s := newStore()
	ctx := context.Background()
	var n uint64
	for k := 0; k <= Points+10; k++ {
		n += uint64(k)
		f.setCalls("p1", run, "M", n, 0)
		s.Sample(ctx, f.sources(), at(k))
	}
	w := s.Window("p1")
	require.Len(t, w.Times, Points)
	assert.Equal(t, at(11).Truncate(Step).Unix(), w.Times[0], "the oldest points dropped")
	assert.Equal(t, at(Points+10).Truncate(Step).Unix(), w.Times[Points-1])
	calls := values(method(w, "M").Calls)
	assert.Equal(t, 11.0/5, calls[0])
	assert.Equal(t, float64(Points+10)/5, calls[Points-1])

	pts, ok := s.Points("p1", w.Times[Points-3])
	require.True(t, ok)
	require.Len(t, pts, 2)
	assert.Equal(t, w.Times[Points-2], pts[0].Time)
	assert.Equal(t, []MethodPoint{{Method: "M", Calls: Value(float64(Points+9) / 5), Errors: 0, P50: 0.00075, P99: 0.000995}}, pts[0].Methods)
	pts, ok = s.Points("p1", w.Times[Points-1])
	assert.True(t, ok)
	assert.Empty(t, pts, "nothing after the newest")
	_, ok = s.Points("p1", at(5).Truncate(Step).Unix())
	assert.False(t, ok, "a point no longer held")
	_, ok = s.Points("p1", w.Times[0]+1)
	assert.False(t, ok, "a time that is no point")
}

func TestRemovedPluginsForgotten(t *testing.T) {
	f := newFake("p1", "p2")
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))
	s.Sample(ctx, f.sources(), at(1))
	require.Len(t, s.Window("p1").Times, 1)
	last := s.Window("p1").Times[0]
	f.remove("p1")
	s.Sample(ctx, f.sources(), at(2))
	assert.Empty(t, s.Window("p1").Times)
	_, ok := s.Points("p1", last)
	assert.False(t, ok, "the page must start over")
	pts, ok := s.Points("p1", 0)
	assert.True(t, ok)
	assert.Empty(t, pts)
	assert.Len(t, s.Window("p2").Times, 2)
	s.mu.Lock()
	assert.Len(t, s.plugins, 1)
	s.mu.Unlock()
}

func TestMaxPlugins(t *testing.T) {
	f := newFake()
	for i := range MaxPlugins + 5 {
		f.add(fmt.Sprintf("p%03d", i), false)
	}
	s := newStore()
	s.Sample(context.Background(), f.sources(), at(0))
	s.Sample(context.Background(), f.sources(), at(1))
	s.mu.Lock()
	assert.Len(t, s.plugins, MaxPlugins)
	s.mu.Unlock()
	assert.Len(t, s.Window("p000").Times, 1)
	assert.Empty(t, s.Window(fmt.Sprintf("p%03d", MaxPlugins+1)).Times, "past MaxPlugins: no series")
}

// TestMethodNamesBounded: each run of a plugin may call other methods;
// the table of names keeps those the window uses, and methods past the
// bounds count as "other".
func TestMethodNamesBounded(t *testing.T) {
	f := newFake("p1")
	s := newStore()
	ctx := context.Background()
	s.Sample(ctx, f.sources(), at(0))
	for k := 1; k <= 10; k++ {
		// Each step a new run with maxMethods+5 methods of its own.
		since := at(k).Add(-time.Second)
		for j := range maxMethods + 5 {
			f.setCalls("p1", since, fmt.Sprintf("Run%d.M%03d", k, j), 1, 0)
		}
		s.Sample(ctx, f.sources(), at(k))
		s.mu.Lock()
		pl := s.plugins["p1"]
		require.LessOrEqual(t, len(pl.names), maxNames)
		assert.LessOrEqual(t, len(pl.at(pl.n-1).methods), maxMethods)
		s.mu.Unlock()
	}
	w := s.Window("p1")
	require.Len(t, w.Times, 10)
	// Every call is in the window, the last step's as well.
	var last float64
	for _, m := range w.Methods {
		last += float64(m.Calls[9]) * Step.Seconds()
	}
	assert.InDelta(t, float64(maxMethods+5), last, 1e-9)
	other := method(w, types.OtherMethod)
	require.NotNil(t, other)
	assert.Positive(t, float64(other.Calls[9]))
}

func TestChangedAndDuplicateStep(t *testing.T) {
	f := newFake("p1")
	s := newStore()
	ctx := context.Background()
	ch := s.Changed()
	s.Sample(ctx, f.sources(), at(0))
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by a sample")
	}
	ch = s.Changed()
	s.Sample(ctx, f.sources(), at(0).Add(time.Second)) // the same step
	select {
	case <-ch:
		t.Fatal("a second sample of a step stored something")
	default:
	}
}

func TestReadErrorLoggedOnce(t *testing.T) {
	f := newFake("p1")
	log, hook := logtest.NewNullLogger()
	s := New(log)
	f.err = errors.New("monitor gone")
	for k := range 3 {
		s.Sample(context.Background(), f.sources(), at(k))
	}
	assert.Len(t, hook.AllEntries(), 1)
	f.err = nil
	s.Sample(context.Background(), f.sources(), at(3))
	f.err = errors.New("monitor gone")
	s.Sample(context.Background(), f.sources(), at(4))
	assert.Len(t, hook.AllEntries(), 2, "logged again once it had recovered")
}

func TestJSON(t *testing.T) {
	f := newFake("p1")
	run := t0.Add(-time.Hour)
	f.setCalls("p1", run, "M", 0, 0)
	s := newStore()
	s.Sample(context.Background(), f.sources(), at(0))
	f.setCalls("p1", run, "M", 5, 0)
	s.Sample(context.Background(), f.sources(), at(1))
	s.Sample(context.Background(), f.sources(), at(2))
	b, err := json.Marshal(s.Window("p1"))
	require.NoError(t, err)
	want := fmt.Sprintf(`{"step":5,"times":[%d,%d],"lines":[0,0],"restarts":[0,0],`+
		`"methods":[{"method":"M","calls":[1,0],"errors":[0,0],"p50":[0.00075,null],"p99":[0.000995,null]}]}`,
		at(1).Truncate(Step).Unix(), at(2).Truncate(Step).Unix())
	assert.JSONEq(t, want, string(b))
	b, err = json.Marshal(s.Window("nope"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"step":5,"times":[],"lines":[],"restarts":[],"methods":[]}`, string(b))
}

func TestRunEndsWithContext(t *testing.T) {
	f := newFake()
	s := newStore()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Run(ctx, f.sources()) // returns at once
}
