package probe

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// BenchOptions tune Bench.
type BenchOptions struct {
	Calls       int           // total calls
	Concurrency int           // calls in flight; 0 or 1: one at a time
	Timeout     time.Duration // per call; 0: none
}

// Stats are the results of Bench.
type Stats struct {
	Method    string
	Calls     int           // calls made
	Failures  int           // transport errors, non-200s and 200s with an error field
	FirstErr  error         // the first failure, if any
	Elapsed   time.Duration // wall time of the whole run
	Latencies []time.Duration
}

// Bench calls method with body o.Calls times over c's keep-alive
// connections, o.Concurrency at a time, and measures each call from sending
// to the last byte of the answer.
func Bench(ctx context.Context, c *Client, method string, body []byte, o BenchOptions) (*Stats, error) {
	if o.Calls <= 0 {
		return nil, fmt.Errorf("repeat count %d: want at least 1", o.Calls)
	}
	conc := max(o.Concurrency, 1)
	if conc > o.Calls {
		conc = o.Calls
	}
	m, _ := Lookup(method)
	st := &Stats{Method: method, Latencies: make([]time.Duration, o.Calls)}
	var next atomic.Int64
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		st.Failures++
		if st.FirstErr == nil {
			st.FirstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Calls || ctx.Err() != nil {
					return
				}
				cctx, cancel := ctx, context.CancelFunc(func() {})
				if o.Timeout > 0 {
					cctx, cancel = context.WithTimeout(ctx, o.Timeout)
				}
				r, err := c.Do(cctx, method, body)
				cancel()
				switch {
				case err != nil:
					fail(err)
					continue
				case statusError(r) != nil:
					fail(statusError(r))
				case m != nil && m.PluginErr(r.Body) != "":
					fail(&PluginError{Method: method, Msg: m.PluginErr(r.Body)})
				}
				st.Latencies[i] = r.Elapsed
			}
		})
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("repeat %s: %w", method, err)
	}
	st.Calls = o.Calls
	lat := st.Latencies[:0]
	for _, d := range st.Latencies {
		if d > 0 {
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	st.Latencies = lat
	return st, nil
}

// Rate is calls per second.
func (s *Stats) Rate() float64 { return float64(s.Calls) / s.Elapsed.Seconds() }

// Percentile returns the latency below which p percent of the answered
// calls fall (nearest rank), or 0 when none was answered.
func (s *Stats) Percentile(p float64) time.Duration {
	if len(s.Latencies) == 0 {
		return 0
	}
	i := int(p/100*float64(len(s.Latencies))+0.5) - 1
	i = min(max(i, 0), len(s.Latencies)-1)
	return s.Latencies[i]
}

// Write prints the statistics. A run with failures returns an error that
// carries the first failure's exit status.
func (s *Stats) Write(w io.Writer) error {
	fmt.Fprintf(w, "%s: %d calls in %s: %.0f calls/s, %d failed\n",
		s.Method, s.Calls, s.Elapsed.Round(time.Millisecond), s.Rate(), s.Failures)
	if len(s.Latencies) > 0 {
		r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
		fmt.Fprintf(w, "latency: min %s  p50 %s  p90 %s  p99 %s  max %s\n",
			r(s.Latencies[0]), r(s.Percentile(50)), r(s.Percentile(90)), r(s.Percentile(99)), r(s.Latencies[len(s.Latencies)-1]))
	}
	if s.FirstErr != nil {
		return fmt.Errorf("%d of %d calls failed, first: %w", s.Failures, s.Calls, s.FirstErr)
	}
	return nil
}
