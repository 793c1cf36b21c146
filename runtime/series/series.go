// Package series keeps, in the daemon's memory, the last 15 minutes of
// each plugin's figures for the web UI's charts: per method, calls/s,
// errors/s and p50/p99 latency (observed plugins only), and per plugin log
// lines/s and restarts. A sampler (Store.Run) reads the sources every Step
// and appends one point per plugin to a ring of Points; the UI takes a
// plugin's whole window, then each new point (Store.Changed, Store.Points).
// No Prometheus is involved: the figures come from the same counters
// (the recording points' call counters, the log hub's line counts, the
// manager's restart events), turned into rates by package api/callstats.
//
// The package depends on no runtime package: its sources are interfaces
// (*manager.Manager and *logs.Hub in the daemon), so that the web UI can
// use its types.
package series

import (
	"context"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/callstats"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// Step is the time between two points. 15 minutes at 5 s are 180 points
// a series: several pixels a point on a chart the width of a window, a
// p99 estimated from five seconds' calls rather than one or two, and one
// read of each observed plugin's counters (a round trip to its monitor)
// every 5 s, which costs the daemon nothing worth measuring. A call shows
// on the chart within 5 s.
const Step = 5 * time.Second

// Window is how far back the series go.
const Window = 15 * time.Minute

// Points is how many points a plugin's series hold.
const Points = int(Window / Step)

// MaxPlugins bounds the plugins charted; plugins past it (by the order in
// which the sampler first saw them) have no series.
const MaxPlugins = 128

// maxMethods bounds the methods of one point: the recording point's
// (types.MaxMethods, and types.OtherMethod). With MaxPlugins and Points
// it bounds the memory the series take: about 20 bytes a method of a
// point, so at most 128 plugins × 129 methods × 180 points ≈ 60 MB, when a
// plugin called on 10 methods every step takes 36 KB.
const maxMethods = types.MaxMethods + 1

// maxNames bounds a plugin's table of method names, which outlives the
// runs of the plugin (each may call other methods): past it, the names no
// point uses any more are dropped.
const maxNames = 2 * maxMethods

// sampleTimeout bounds one sample's reads of the plugins' counters (their
// monitors), below Step so that a hung monitor does not delay the next.
const sampleTimeout = 4 * time.Second

// Plugins lists the daemon's plugins: *manager.Manager.
type Plugins interface {
	List() []types.Inspect
}

// Calls reads the call counters of the observed plugins:
// *manager.Manager.
type Calls interface {
	CallStats(ctx context.Context) ([]types.CallStats, error)
}

// Lines counts the lines of each plugin's output: *logs.Hub.
type Lines interface {
	Counts() map[string]logs.LineCounts
}

// Sources are what the series are sampled from. Plugins is required;
// without Calls or Lines those series stay empty.
type Sources struct {
	Plugins Plugins
	Calls   Calls
	Lines   Lines
}

// Store holds the series. It is a manager.Observer (Event, Enabled), for
// the restarts, so it exists before the manager it then samples (Run's
// Sources). Safe for concurrent use; Sample is called by one goroutine at
// a time (Run's).
type Store struct {
	log logrus.FieldLogger

	evMu     sync.Mutex
	restarts map[string]uint32 // by plugin ID: since the last sample

	mu      sync.Mutex
	plugins map[string]*plugin // by ID
	lastT   int64              // the last sample's time (unix s); 0 before the first
	changed chan struct{}      // closed at the next sample
	lastErr string             // the last error reading the counters, logged once
}

// plugin is one plugin's ring of points and what its next point is the
// difference from.
type plugin struct {
	points [Points]point
	first  int // index of the oldest point
	n      int // points held

	names []string          // method names, by index
	index map[string]uint16 // name → index in names

	calls     *types.CallStats // the last counters read, nil if none yet
	lines     uint64           // the line count at the last sample
	recording bool             // whether its recording point was in place at the last sample
}

// point is one step of a plugin. Methods hold only the methods called in
// the step.
type point struct {
	t        int64 // unix seconds: the end of the step
	lines    uint32
	restarts uint32
	methods  []methodPoint
}

type methodPoint struct {
	m        uint16 // index in plugin.names
	calls    uint32
	errors   uint32
	p50, p99 float32 // seconds
}

// New returns a Store with no series; it logs to log (nil: logrus'
// standard logger).
func New(log logrus.FieldLogger) *Store {
	if log == nil {
		log = logrus.StandardLogger()
	}
	return &Store{log: log, restarts: map[string]uint32{}, plugins: map[string]*plugin{}, changed: make(chan struct{})}
}

// Event implements manager.Observer: it counts each plugin's restarts
// (the manager's "restarting" events, each seen once). It is called under
// the manager's event lock, so it only counts.
func (s *Store) Event(m events.Message) {
	if m.Action != types.ActionRestarting {
		return
	}
	s.evMu.Lock()
	s.restarts[m.Actor.ID]++
	s.evMu.Unlock()
}

// Enabled implements manager.Observer; enable times are not charted.
func (s *Store) Enabled(time.Duration) {}

// takeRestarts returns the restarts counted since the last call, by ID.
func (s *Store) takeRestarts() map[string]uint32 {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	r := s.restarts
	s.restarts = map[string]uint32{}
	return r
}

// Run samples src every Step, on the multiples of Step of the wall clock,
// until ctx ends.
func (s *Store) Run(ctx context.Context, src Sources) {
	for {
		now := time.Now()
		t := time.NewTimer(now.Truncate(Step).Add(Step).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case now = <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, sampleTimeout)
		s.Sample(sctx, src, now)
		cancel()
	}
}

// Sample reads src and appends a point for the step that ends at
// now (truncated to Step) to each plugin's series; ctx bounds the reads.
// The first sample only takes the counters the next ones are differences
// from, and makes no point. A plugin first seen later counts everything
// its counters hold: it was created, or began to be observed, since the
// sample before (a plugin that was already recording then, and whose
// counters could not be read, starts from the counters instead). A second
// sample of one step is ignored.
func (s *Store) Sample(ctx context.Context, src Sources, now time.Time) {
	t := now.Truncate(Step).Unix()
	s.mu.Lock()
	lastT := s.lastT
	s.mu.Unlock()
	if t <= lastT {
		return
	}
	list := src.Plugins.List()
	var stats []types.CallStats
	if src.Calls != nil {
		var err error
		stats, err = src.Calls.CallStats(ctx)
		s.logErr(err)
	}
	var counts map[string]logs.LineCounts
	if src.Lines != nil {
		counts = src.Lines.Counts()
	}
	restarts := s.takeRestarts()
	byID := make(map[string]types.CallStats, len(stats))
	for _, c := range stats {
		byID[c.Plugin] = c
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.lastT == 0
	listed := make(map[string]bool, len(list))
	for _, p := range list {
		listed[p.ID] = true
	}
	for id := range s.plugins {
		if !listed[id] {
			delete(s.plugins, id) // removed: forgotten
		}
	}
	for _, p := range list {
		pl := s.plugins[p.ID]
		lc := counts[p.ID]
		lines := lc.StdoutLines + lc.StderrLines
		if pl == nil {
			if len(s.plugins) >= MaxPlugins {
				continue
			}
			pl = &plugin{index: map[string]uint16{}}
			if first {
				pl.lines = lines
			}
			s.plugins[p.ID] = pl
		}
		pt := point{t: t, restarts: restarts[p.ID]}
		// The hub's counts restart from zero when it forgets a plugin.
		pt.lines = clamp32(lines - pl.lines)
		if lines < pl.lines {
			pt.lines = clamp32(lines)
		}
		pl.lines = lines

		if c, ok := byID[p.ID]; ok {
			var d *callstats.Delta
			switch {
			case pl.calls != nil:
				dd := callstats.Diff(*pl.calls, c)
				d = &dd
			case !first && (c.Since.Unix() > lastT || !pl.recording):
				dd := callstats.Diff(types.CallStats{}, c)
				d = &dd
			}
			pl.calls = &c
			if d != nil {
				pt.methods = pl.methodPoints(d.Methods)
			}
		}
		pl.recording = p.State.Recording
		if !first {
			pl.add(pt)
		}
	}
	s.lastT = t
	close(s.changed)
	s.changed = make(chan struct{})
}

// logErr logs a failure to read the counters once, not at every sample.
func (s *Store) logErr(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	changed := msg != s.lastErr
	s.lastErr = msg
	s.mu.Unlock()
	if changed && err != nil {
		s.log.WithError(err).Warn("charts: read the calls of observed plugins")
	}
}

func clamp32(n uint64) uint32 { return uint32(min(n, math.MaxUint32)) }

// methodPoints turns a step's deltas into method points; methods past
// maxMethods, or that the name table has no room for, count as
// types.OtherMethod.
func (pl *plugin) methodPoints(ms []callstats.MethodDelta) []methodPoint {
	if len(pl.names)+len(ms)+1 > maxNames {
		pl.compact() // before this point's indices are taken
	}
	out := make([]methodPoint, 0, min(len(ms), maxMethods))
	var other *callstats.MethodDelta
	for i := range ms {
		m := &ms[i]
		idx, ok := uint16(0), false
		if m.Method != types.OtherMethod && len(out) < maxMethods-1 {
			idx, ok = pl.name(m.Method)
		}
		if !ok {
			other = merge(other, m)
			continue
		}
		out = append(out, pointOf(idx, m))
	}
	if other != nil {
		if idx, ok := pl.name(types.OtherMethod); ok {
			out = append(out, pointOf(idx, other))
		}
	}
	sort.Slice(out, func(i, j int) bool { return pl.names[out[i].m] < pl.names[out[j].m] })
	return out
}

func pointOf(idx uint16, m *callstats.MethodDelta) methodPoint {
	return methodPoint{
		m: idx, calls: clamp32(m.Calls), errors: clamp32(m.Errors),
		p50: float32(m.Quantile(0.5)), p99: float32(m.Quantile(0.99)),
	}
}

// merge adds m's counts to into (a copy of m when into is nil).
func merge(into, m *callstats.MethodDelta) *callstats.MethodDelta {
	if into == nil {
		c := *m
		c.Method = types.OtherMethod
		c.Buckets = append([]uint64(nil), m.Buckets...)
		return &c
	}
	into.Add(*m)
	return into
}

// name returns the index of method name in pl's table, adding it; false
// when the table is full (one place is kept for types.OtherMethod).
func (pl *plugin) name(name string) (uint16, bool) {
	if i, ok := pl.index[name]; ok {
		return i, true
	}
	if len(pl.names) >= maxNames-1 && (name != types.OtherMethod || len(pl.names) >= maxNames) {
		return 0, false
	}
	i := uint16(len(pl.names))
	pl.names = append(pl.names, name)
	pl.index[name] = i
	return i, true
}

// compact drops the names no point uses, renumbering the points'.
func (pl *plugin) compact() {
	used := map[uint16]uint16{}
	var names []string
	for k := range pl.n {
		pt := &pl.points[(pl.first+k)%Points]
		for j := range pt.methods {
			old := pt.methods[j].m
			nw, ok := used[old]
			if !ok {
				nw = uint16(len(names))
				used[old] = nw
				names = append(names, pl.names[old])
			}
			pt.methods[j].m = nw
		}
	}
	pl.names = names
	pl.index = make(map[string]uint16, len(names))
	for i, n := range names {
		pl.index[n] = uint16(i)
	}
}

// add appends pt, dropping the oldest point when the ring is full.
func (pl *plugin) add(pt point) {
	if pl.n < Points {
		pl.points[(pl.first+pl.n)%Points] = pt
		pl.n++
		return
	}
	pl.points[pl.first] = pt
	pl.first = (pl.first + 1) % Points
}

// at returns the k-th oldest point.
func (pl *plugin) at(k int) *point { return &pl.points[(pl.first+k)%Points] }

// Changed returns a channel closed once the next sample is stored: take
// it before Window or Points, then wait on it for what follows.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Value is a figure of a series: JSON null when it is NaN (no call in
// the step: no latency).
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// SeriesWindow is a plugin's series over the window, column by column (as
// a chart takes them): one value per time of Times, oldest first.
type SeriesWindow struct {
	Step     int            `json:"step"`     // seconds between points
	Times    []int64        `json:"times"`    // unix seconds: the end of each step
	Lines    []Value        `json:"lines"`    // log lines/s, stdout and stderr
	Restarts []uint32       `json:"restarts"` // restarts in the step
	Methods  []MethodSeries `json:"methods"`  // the methods called in the window, by name
}

// MethodSeries is one method's columns of a SeriesWindow.
type MethodSeries struct {
	Method string  `json:"method"`
	Calls  []Value `json:"calls"`  // per second
	Errors []Value `json:"errors"` // per second
	P50    []Value `json:"p50"`    // seconds; null: no call in the step
	P99    []Value `json:"p99"`
}

// Point is one step of a plugin's series.
type Point struct {
	Time     int64         `json:"time"`
	Lines    Value         `json:"lines"`
	Restarts uint32        `json:"restarts"`
	Methods  []MethodPoint `json:"methods"` // the methods called in the step, by name
}

// MethodPoint is one method's figures of a Point.
type MethodPoint struct {
	Method string `json:"method"`
	Calls  Value  `json:"calls"`
	Errors Value  `json:"errors"`
	P50    Value  `json:"p50"`
	P99    Value  `json:"p99"`
}

// perSecond is a count of a step as a rate.
func perSecond(n uint32) Value { return Value(float64(n) / Step.Seconds()) }

// latency is a quantile as sent: four significant digits, as much as an
// interpolation inside a histogram bucket is worth.
func latency(f float32) Value {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', 4, 64), 64)
	return Value(v)
}

// Window returns plugin id's series; empty when the store has none for it
// (not sampled yet, removed, or past MaxPlugins).
func (s *Store) Window(id string) SeriesWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := SeriesWindow{Step: int(Step / time.Second), Times: []int64{}, Lines: []Value{}, Restarts: []uint32{}, Methods: []MethodSeries{}}
	pl := s.plugins[id]
	if pl == nil {
		return w
	}
	cols := map[uint16]*MethodSeries{}
	for k := range pl.n {
		pt := pl.at(k)
		w.Times = append(w.Times, pt.t)
		w.Lines = append(w.Lines, perSecond(pt.lines))
		w.Restarts = append(w.Restarts, pt.restarts)
		for _, mp := range pt.methods {
			c := cols[mp.m]
			if c == nil {
				c = &MethodSeries{Method: pl.names[mp.m], Calls: make([]Value, pl.n), Errors: make([]Value, pl.n), P50: make([]Value, pl.n), P99: make([]Value, pl.n)}
				for i := range pl.n {
					c.P50[i], c.P99[i] = Value(math.NaN()), Value(math.NaN())
				}
				cols[mp.m] = c
			}
			c.Calls[k], c.Errors[k] = perSecond(mp.calls), perSecond(mp.errors)
			c.P50[k], c.P99[k] = latency(mp.p50), latency(mp.p99)
		}
	}
	for _, c := range cols {
		w.Methods = append(w.Methods, *c)
	}
	sort.Slice(w.Methods, func(i, j int) bool { return w.Methods[i].Method < w.Methods[j].Method })
	return w
}

// Points returns plugin id's points after time after (unix seconds), the
// newest last. ok is false when they do not follow on from after: the
// point at after is no longer held (the window moved past it, or the
// plugin was removed), so the caller must take the whole Window again. An
// after of 0 stands for an empty window: every point follows on from it.
func (s *Store) Points(id string, after int64) (pts []Point, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.plugins[id]
	if pl == nil {
		return nil, after == 0
	}
	k := pl.n
	for k > 0 && pl.at(k-1).t > after {
		k--
	}
	if after != 0 && (k == 0 || pl.at(k-1).t != after) {
		return nil, false
	}
	for ; k < pl.n; k++ {
		pt := pl.at(k)
		p := Point{Time: pt.t, Lines: perSecond(pt.lines), Restarts: pt.restarts, Methods: make([]MethodPoint, 0, len(pt.methods))}
		for _, mp := range pt.methods {
			p.Methods = append(p.Methods, MethodPoint{
				Method: pl.names[mp.m], Calls: perSecond(mp.calls), Errors: perSecond(mp.errors),
				P50: latency(mp.p50), P99: latency(mp.p99),
			})
		}
		pts = append(pts, p)
	}
	return pts, true
}
