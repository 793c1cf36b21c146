package callstats

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestIsError(t *testing.T) {
	tests := []struct {
		status string
		want   bool
	}{
		{"200", false}, {"204", false}, {"301", false},
		{"400", true}, {"404", true}, {"499", true}, {"500", true}, {"503", true},
		{types.CallErr, true}, {types.CallNoAnswer, true},
		{"", false}, {"4", false}, {"4xx", false}, {"5000", false}, {"600", false},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			assert.Equal(t, tt.want, IsError(tt.status))
		})
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.4, 1}
	tests := []struct {
		name       string
		q          float64
		cumulative []uint64
		count      uint64
		want       float64 // NaN: want NaN
	}{
		{name: "no observation", q: 0.5, cumulative: []uint64{0, 0, 0, 0}, count: 0, want: math.NaN()},
		{name: "median inside the first bucket, from 0", q: 0.5, cumulative: []uint64{10, 10, 10, 10}, count: 10, want: 0.05},
		{name: "median interpolated in the second bucket", q: 0.5, cumulative: []uint64{0, 10, 10, 10}, count: 10, want: 0.15},
		{name: "p99 in the third bucket", q: 0.99, cumulative: []uint64{50, 90, 100, 100}, count: 100, want: 0.2 + 0.2*(9.0/10)},
		{name: "rank exactly at a bucket's top", q: 0.5, cumulative: []uint64{5, 10, 10, 10}, count: 10, want: 0.1},
		{name: "in the +Inf bucket: the highest finite bound", q: 0.99, cumulative: []uint64{0, 0, 0, 50}, count: 100, want: 1},
		{name: "all in +Inf", q: 0.5, cumulative: []uint64{0, 0, 0, 0}, count: 3, want: 1},
		{name: "q 1 is the top of the last non-empty bucket", q: 1, cumulative: []uint64{2, 4, 4, 4}, count: 4, want: 0.2},
		{name: "q 0 in an empty first bucket", q: 0, cumulative: []uint64{0, 4, 4, 4}, count: 4, want: 0},
		{name: "non-monotonic counts are raised", q: 0.5, cumulative: []uint64{10, 4, 10, 10}, count: 10, want: 0.05},
		{name: "count below the buckets is raised", q: 0.5, cumulative: []uint64{10, 10, 10, 10}, count: 8, want: 0.05},
		{name: "q above 1", q: 1.5, cumulative: []uint64{1, 1, 1, 1}, count: 1, want: math.NaN()},
		{name: "q below 0", q: -0.1, cumulative: []uint64{1, 1, 1, 1}, count: 1, want: math.NaN()},
		{name: "fewer buckets than bounds", q: 0.5, cumulative: []uint64{0, 10}, count: 10, want: 0.15},
		{name: "no bucket", q: 0.5, cumulative: nil, count: 10, want: math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Quantile(tt.q, bounds, tt.cumulative, tt.count)
			if math.IsNaN(tt.want) {
				assert.True(t, math.IsNaN(got), "got %v, want NaN", got)
				return
			}
			assert.InDelta(t, tt.want, got, 1e-12)
		})
	}
}

// calls is one method's counters with every call under bound index b
// (len(types.CallLatencyBuckets) for the +Inf bucket).
func calls(method string, statuses map[string]uint64, b int) types.MethodCalls {
	m := types.MethodCalls{Method: method, Statuses: statuses, Buckets: make([]uint64, len(types.CallLatencyBuckets))}
	for _, n := range statuses {
		m.Count += n
	}
	for i := b; i < len(m.Buckets); i++ {
		m.Buckets[i] = m.Count
	}
	m.Sum = float64(m.Count) * 0.001
	return m
}

func TestDiff(t *testing.T) {
	run1 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run2 := run1.Add(time.Minute)
	sample := func(since time.Time, ms ...types.MethodCalls) types.CallStats {
		return types.CallStats{Plugin: "id", Since: since, Methods: ms}
	}
	const ms1 = 3 // types.CallLatencyBuckets[3] is 1 ms
	tests := []struct {
		name      string
		prev, cur types.CallStats
		reset     bool
		want      map[string][2]uint64 // method: calls, errors
	}{
		{
			name:  "growth",
			prev:  sample(run1, calls("VolumeDriver.List", map[string]uint64{"200": 10}, ms1)),
			cur:   sample(run1, calls("VolumeDriver.List", map[string]uint64{"200": 15, types.CallErr: 2}, ms1)),
			want:  map[string][2]uint64{"VolumeDriver.List": {7, 2}},
			reset: false,
		},
		{
			name: "a method without calls in between is left out, a new one counts whole",
			prev: sample(run1, calls("A", map[string]uint64{"200": 4}, ms1)),
			cur:  sample(run1, calls("A", map[string]uint64{"200": 4}, ms1), calls("B", map[string]uint64{"404": 3, "500": 1, "200": 1}, ms1)),
			want: map[string][2]uint64{"B": {5, 4}},
		},
		{
			name:  "new run (Since changed): the later counts are the delta",
			prev:  sample(run1, calls("A", map[string]uint64{"200": 100}, ms1)),
			cur:   sample(run2, calls("A", map[string]uint64{"200": 150, types.CallNoAnswer: 1}, ms1)),
			reset: true,
			want:  map[string][2]uint64{"A": {151, 1}},
		},
		{
			name:  "a count went down without a new Since",
			prev:  sample(run1, calls("A", map[string]uint64{"200": 100}, ms1)),
			cur:   sample(run1, calls("A", map[string]uint64{"200": 3}, ms1)),
			reset: true,
			want:  map[string][2]uint64{"A": {3, 0}},
		},
		{
			name:  "one status went down while the total grew",
			prev:  sample(run1, calls("A", map[string]uint64{"200": 10, "500": 5}, ms1)),
			cur:   sample(run1, calls("A", map[string]uint64{"200": 20, "500": 1}, ms1)),
			reset: true,
			want:  map[string][2]uint64{"A": {21, 1}},
		},
		{
			name:  "a method gone is a reset",
			prev:  sample(run1, calls("A", map[string]uint64{"200": 10}, ms1), calls("B", map[string]uint64{"200": 1}, ms1)),
			cur:   sample(run1, calls("A", map[string]uint64{"200": 12}, ms1)),
			reset: true,
			want:  map[string][2]uint64{"A": {12, 0}},
		},
		{
			name:  "no earlier sample: everything counted so far",
			prev:  types.CallStats{},
			cur:   sample(run1, calls("A", map[string]uint64{"200": 9}, ms1)),
			reset: true,
			want:  map[string][2]uint64{"A": {9, 0}},
		},
		{
			name: "nothing happened",
			prev: sample(run1, calls("A", map[string]uint64{"200": 9}, ms1)),
			cur:  sample(run1, calls("A", map[string]uint64{"200": 9}, ms1)),
			want: map[string][2]uint64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diff(tt.prev, tt.cur)
			assert.Equal(t, tt.reset, d.Reset)
			got := map[string][2]uint64{}
			for _, m := range d.Methods {
				got[m.Method] = [2]uint64{m.Calls, m.Errors}
				require.Len(t, m.Buckets, len(types.CallLatencyBuckets))
				assert.Equal(t, m.Calls, m.Buckets[len(m.Buckets)-1], "%s: every call took at most 1 ms", m.Method)
				assert.InDelta(t, float64(m.Calls)*0.001, m.Sum, 1e-9, "%s: sum", m.Method)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestDiffQuantilesFromDeltas: the quantiles of an interval come from the
// buckets' deltas, not from the counts since the run began.
func TestDiffQuantilesFromDeltas(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// 1000 fast calls (at most 0.1 ms) first, then 100 slow ones
	// (between 0.5 and 1 s).
	fast := calls("M", map[string]uint64{"200": 1000}, 0)
	slow := calls("M", map[string]uint64{"200": 1100}, 0)
	iHalf := 11 // types.CallLatencyBuckets[11] is 0.5 s
	require.Equal(t, 0.5, types.CallLatencyBuckets[iHalf])
	for i := range iHalf + 1 {
		slow.Buckets[i] = 1000
	}
	d := Diff(types.CallStats{Since: since, Methods: []types.MethodCalls{fast}}, types.CallStats{Since: since, Methods: []types.MethodCalls{slow}})
	require.Len(t, d.Methods, 1)
	m := d.Methods[0]
	assert.Equal(t, uint64(100), m.Calls)
	assert.InDelta(t, 0.75, m.Quantile(0.5), 1e-12, "the median of the slow calls alone")
	assert.InDelta(t, 0.5+0.5*0.99, m.Quantile(0.99), 1e-12)

	r := d.Rates(5)
	require.Len(t, r, 1)
	assert.Equal(t, Rates{Method: "M", Calls: 20, Errors: 0, P50: m.Quantile(0.5), P99: m.Quantile(0.99)}, r[0])
}

// TestCallRates: every method together, the latency from the summed
// buckets; no call gives no latency.
func TestCallRates(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// 90 fast calls of A (at most 0.1 ms), 10 failed slow ones of B
	// (between 0.5 and 1 s).
	a := calls("A", map[string]uint64{"200": 90}, 0)
	b := calls("B", map[string]uint64{types.CallErr: 10}, 0)
	iHalf := 11 // types.CallLatencyBuckets[11] is 0.5 s
	require.Equal(t, 0.5, types.CallLatencyBuckets[iHalf])
	for i := range iHalf + 1 {
		b.Buckets[i] = 0
	}
	b.Sum = 7
	cur := types.CallStats{Since: since, Methods: []types.MethodCalls{a, b}}
	r := Diff(types.CallStats{Since: since}, cur).CallRates(2)
	assert.Equal(t, 2.0, r.Seconds)
	assert.Equal(t, uint64(100), r.Calls)
	assert.Equal(t, uint64(10), r.Errors)
	assert.Equal(t, 50.0, r.PerSecond)
	assert.InDelta(t, 0.0001*50/90, r.P50, 1e-12, "the median is among A's calls")
	assert.InDelta(t, 0.5+0.5*(99-90)/10.0, r.P99, 1e-12, "the 99th percentile among B's")

	none := Diff(cur, cur).CallRates(1)
	assert.Equal(t, types.CallRates{Seconds: 1}, none)
}
