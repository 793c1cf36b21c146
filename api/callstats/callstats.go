// Package callstats turns two samples of an observed plugin's call
// counters (types.CallStats, cumulative since the plugin's run began) into
// what happened between them: calls and errors per method, their rates,
// and latency quantiles estimated from the histogram buckets as
// Prometheus' histogram_quantile estimates them. It is pure (api/types
// and the standard library only), so that the pure-Go client (plugdbg
// stats) and the daemon's chart series compute the same figures.
package callstats

import (
	"math"
	"sort"
	"strings"

	"github.com/plugdbg/plugdbg/api/types"
)

// Delta is what one plugin's recording point counted between two samples.
type Delta struct {
	// Reset: the counters started again from zero in between (a new run
	// of the plugin: Since changed, or a count went down), so the later
	// sample's counts are the delta.
	Reset bool
	// Methods are the methods called in between, sorted by method; a
	// method with no call in between is left out.
	Methods []MethodDelta
}

// MethodDelta is what one method's counters counted between two samples.
type MethodDelta struct {
	Method string
	Calls  uint64 // every call, whatever its status
	Errors uint64 // calls whose status IsError
	// Buckets are cumulative, as types.MethodCalls.Buckets: Buckets[i]
	// counts the calls that took at most types.CallLatencyBuckets[i]
	// seconds; Calls is the implicit +Inf bucket.
	Buckets []uint64
	Sum     float64 // seconds
}

// IsError reports whether a call of status (a types.MethodCalls.Statuses
// key) failed: the plugin's Err (types.CallErr), no answer at all
// (types.CallNoAnswer), or an HTTP 4xx or 5xx.
func IsError(status string) bool {
	switch status {
	case types.CallErr, types.CallNoAnswer:
		return true
	}
	return len(status) == 3 && (status[0] == '4' || status[0] == '5') &&
		strings.Trim(status[1:], "0123456789") == ""
}

// Diff returns what the counters counted from prev to cur, two samples of
// one plugin's counters, prev the earlier. When the counters were reset in
// between (cur.Since differs from prev.Since, or any count of cur is below
// prev's), the delta is cur's counts: every call of the new run came after
// prev. A zero prev (no earlier sample) makes the delta cur's counts too.
func Diff(prev, cur types.CallStats) Delta {
	reset := !prev.Since.Equal(cur.Since) || cur.Unparsed < prev.Unparsed
	before := make(map[string]*types.MethodCalls, len(prev.Methods))
	for i := range prev.Methods {
		before[prev.Methods[i].Method] = &prev.Methods[i]
	}
	if !reset {
		seen := 0
		for i := range cur.Methods {
			if p := before[cur.Methods[i].Method]; p != nil {
				seen++
				if wentDown(p, &cur.Methods[i]) {
					reset = true
					break
				}
			}
		}
		// A method of prev that cur no longer has went down to zero.
		reset = reset || seen < len(prev.Methods)
	}
	d := Delta{Reset: reset}
	for i := range cur.Methods {
		c := &cur.Methods[i]
		var p *types.MethodCalls
		if !reset {
			p = before[c.Method]
		}
		m := MethodDelta{Method: c.Method, Calls: c.Count, Sum: c.Sum, Buckets: make([]uint64, len(c.Buckets))}
		copy(m.Buckets, c.Buckets)
		for status, n := range c.Statuses {
			if IsError(status) {
				m.Errors += n
			}
		}
		if p != nil {
			m.Calls -= p.Count
			m.Sum = max(0, m.Sum-p.Sum)
			for i := range m.Buckets {
				m.Buckets[i] -= p.Buckets[i]
			}
			for status, n := range p.Statuses {
				if IsError(status) {
					m.Errors -= n
				}
			}
		}
		if m.Calls > 0 {
			d.Methods = append(d.Methods, m)
		}
	}
	sort.Slice(d.Methods, func(i, j int) bool { return d.Methods[i].Method < d.Methods[j].Method })
	return d
}

// wentDown reports whether any counter of cur is below prev's, or their
// buckets differ in number (the bounds changed): either way they are not
// the same counters any more.
func wentDown(prev, cur *types.MethodCalls) bool {
	if cur.Count < prev.Count || len(cur.Buckets) != len(prev.Buckets) {
		return true
	}
	for i := range cur.Buckets {
		if cur.Buckets[i] < prev.Buckets[i] {
			return true
		}
	}
	for status, n := range prev.Statuses {
		if cur.Statuses[status] < n {
			return true
		}
	}
	return false
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1), in seconds, of the calls
// m counts, from its buckets (see Quantile). NaN when m has no call.
func (m MethodDelta) Quantile(q float64) float64 {
	return Quantile(q, types.CallLatencyBuckets, m.Buckets, m.Calls)
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations of a
// histogram as Prometheus' histogram_quantile does: cumulative[i] counts
// the observations at most bounds[i] (ascending, finite), count all of
// them (the +Inf bucket). The quantile's rank is found in the first
// bucket whose cumulative count reaches it, and interpolated linearly
// between that bucket's bounds (the first bucket's lower bound is 0); a
// rank in the +Inf bucket is answered with the highest finite bound.
// Buckets past len(bounds) are ignored, and counts that go down (which
// cumulative counts cannot) are raised to the count before them, as
// Prometheus does. NaN when there is no observation or q is outside [0,
// 1].
func Quantile(q float64, bounds []float64, cumulative []uint64, count uint64) float64 {
	if count == 0 || math.IsNaN(q) || q < 0 || q > 1 {
		return math.NaN()
	}
	n := min(len(bounds), len(cumulative))
	if n == 0 {
		return math.NaN()
	}
	// The buckets made monotonic, with +Inf last.
	counts := make([]float64, n+1)
	var run uint64
	for i := range n {
		run = max(run, cumulative[i])
		counts[i] = float64(run)
	}
	counts[n] = float64(max(run, count))
	rank := q * counts[n]
	b := sort.Search(n, func(i int) bool { return counts[i] >= rank })
	if b == n {
		return bounds[n-1]
	}
	if b == 0 && bounds[0] <= 0 {
		return bounds[0]
	}
	start, end, in := 0.0, bounds[b], counts[b]
	if b > 0 {
		start = bounds[b-1]
		in -= counts[b-1]
		rank -= counts[b-1]
	}
	if in == 0 {
		// Only a rank of 0 (q = 0) lands in an empty bucket.
		return start
	}
	return start + (end-start)*(rank/in)
}

// Rates are one method's figures over an interval.
type Rates struct {
	Method string
	Calls  float64 // calls per second
	Errors float64 // failed calls per second (IsError)
	// P50 and P99 are latency quantiles in seconds (see Quantile), NaN
	// when the method had no call.
	P50, P99 float64
}

// Rates returns d's figures per method over an interval of seconds (> 0),
// sorted by method.
func (d Delta) Rates(seconds float64) []Rates {
	out := make([]Rates, 0, len(d.Methods))
	for _, m := range d.Methods {
		out = append(out, Rates{
			Method: m.Method,
			Calls:  float64(m.Calls) / seconds,
			Errors: float64(m.Errors) / seconds,
			P50:    m.Quantile(0.5),
			P99:    m.Quantile(0.99),
		})
	}
	return out
}

// Total is every method's calls of d together, as one MethodDelta with no
// Method: the plugin's calls, errors and latency whatever was called.
func (d Delta) Total() MethodDelta {
	t := MethodDelta{Buckets: make([]uint64, len(types.CallLatencyBuckets))}
	for _, m := range d.Methods {
		t.Add(m)
	}
	return t
}

// Add counts o's calls in m too (their buckets as far as m has them).
func (m *MethodDelta) Add(o MethodDelta) {
	m.Calls += o.Calls
	m.Errors += o.Errors
	m.Sum += o.Sum
	for i := range min(len(m.Buckets), len(o.Buckets)) {
		m.Buckets[i] += o.Buckets[i]
	}
}

// CallRates are d's figures over an interval of seconds (> 0), every
// method together, as plugdbg stats shows them.
func (d Delta) CallRates(seconds float64) types.CallRates {
	t := d.Total()
	r := types.CallRates{Seconds: seconds, Calls: t.Calls, Errors: t.Errors, PerSecond: float64(t.Calls) / seconds}
	if t.Calls > 0 {
		r.P50, r.P99 = t.Quantile(0.5), t.Quantile(0.99)
	}
	return r
}
