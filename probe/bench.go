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
	dog := newWatchdog(ctx, conc, o.Timeout)
	dogCtx, stopDog := context.WithCancel(ctx)
	defer stopDog()
	go dog.run(dogCtx)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range dog.workers {
		// On a unix socket each worker has a connection of its own and
		// makes its calls on it directly (connCaller); elsewhere (tcp,
		// TLS, gzip) through the client's Transport.
		do := func(ctx context.Context) (*Response, error) { return c.Do(ctx, method, body) }
		if c.dial != nil {
			k, err := newConnCaller(c, method, body)
			if err != nil {
				return nil, err
			}
			defer k.close()
			do = k.call
		}
		wg.Go(func() {
			defer w.stop()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Calls || ctx.Err() != nil {
					return
				}
				r, err := do(w.begin())
				if w.end() {
					err = &TransportError{Method: method, Err: fmt.Errorf("no answer within %s: %w", o.Timeout, context.DeadlineExceeded)}
				}
				switch {
				case err != nil:
					fail(err)
					continue
				case r.Err() != nil:
					fail(r.Err())
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

// watchdog bounds the calls of Bench's workers. A context with a timeout
// per call costs a run a tenth of its CPU (a runtime timer added and
// deleted each time); instead each worker marks when its call started, and
// one goroutine looks over the marks a few times per timeout and cancels
// the calls that outlived it.
type watchdog struct {
	timeout time.Duration
	workers []*benchWorker
}

// benchWorker is one of Bench's goroutines as the watchdog sees it.
type benchWorker struct {
	parent  context.Context
	ctx     context.Context // the worker's own; replaced after a timeout
	started atomic.Int64    // UnixNano of the call under way; 0 idle; -1 timed out
	mu      sync.Mutex      // guards cancel, which the watchdog calls
	cancel  context.CancelFunc
}

func newWatchdog(ctx context.Context, n int, timeout time.Duration) *watchdog {
	d := &watchdog{timeout: timeout}
	for range n {
		w := &benchWorker{parent: ctx}
		w.ctx, w.cancel = context.WithCancel(ctx)
		d.workers = append(d.workers, w)
	}
	return d
}

// run checks the workers until ctx ends. It does nothing without a timeout.
func (d *watchdog) run(ctx context.Context) {
	if d.timeout <= 0 {
		return
	}
	tick := time.NewTicker(min(max(d.timeout/8, 5*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, w := range d.workers {
				if s := w.started.Load(); s > 0 && now.UnixNano()-s > int64(d.timeout) && w.started.CompareAndSwap(s, -1) {
					w.stop()
				}
			}
		}
	}
}

// begin marks a call as started and returns its context.
func (w *benchWorker) begin() context.Context {
	w.started.Store(time.Now().UnixNano())
	return w.ctx
}

// end marks the call as over, and reports whether the watchdog had
// cancelled it. The worker then gets a fresh context.
func (w *benchWorker) end() (timedOut bool) {
	if w.started.Swap(0) != -1 {
		return false
	}
	ctx, cancel := context.WithCancel(w.parent)
	w.mu.Lock()
	w.ctx, w.cancel = ctx, cancel
	w.mu.Unlock()
	return true
}

// stop cancels the worker's context.
func (w *benchWorker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel()
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
