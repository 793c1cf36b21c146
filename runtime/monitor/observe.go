package monitor

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/observe"
	"github.com/plugdbg/plugdbg/runtime/sockwatch"
)

// maxObserveWait bounds how long an observe request waits for the point
// to be in place: for the plugin to create its socket, at an enable.
const maxObserveWait = 2 * time.Minute

// observer is a run's recording point, on or off, and its counters. The
// counters live as long as the monitor, that is the run: turning the point
// off and on again goes on counting from where it was, and no daemon
// restart touches them.
type observer struct {
	socket string // the plugin's socket on the host; "": unknown
	stats  *observe.Stats

	mu         sync.Mutex
	on         bool
	point      *observe.Point
	err        error
	installing bool
	ended      bool          // the container exited: nothing to observe any more
	stop       chan struct{} // closed when the container exited, ends a wait for the socket
	changed    chan struct{} // closed and replaced at each change of the state

	// tmu guards traces, the trace streams attached to the point (trace.go).
	// It is taken on the point's connections, for each record, so never
	// held for long, and after mu when both are.
	tmu    sync.Mutex
	traces map[*traceSub]struct{}
}

func newObserver(socket string) *observer {
	return &observer{socket: socket, stats: observe.NewStats(), stop: make(chan struct{}), changed: make(chan struct{})}
}

// notify wakes the waiters of a change. Caller holds o.mu.
func (o *observer) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// status returns the point's state. Caller holds o.mu.
func (o *observer) status() ObserveStatus {
	s := ObserveStatus{On: o.on, Recording: o.point != nil, Traces: o.traceCount()}
	if o.on && o.point == nil {
		switch {
		case o.err != nil:
			s.Error = o.err.Error()
		case o.ended:
			s.Error = "the plugin has exited"
		case o.installing:
			s.Error = "waiting for the plugin's socket"
		}
	}
	return s
}

// set turns the point on or off. On, it is put in place once the plugin's
// socket exists, in the background; off, the plugin's socket is put back
// at once, and connections open through the point go on (and are
// counted, not recorded) until their clients close them; the trace
// streams end, once the socket is back, saying the point was removed.
func (o *observer) set(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.on = on
	if !on {
		o.err = nil
		if p := o.point; p != nil {
			o.point = nil
			p.Trace(nil)
			if err := p.Remove(); err != nil {
				o.err = err
			}
			o.endTraces(TraceRemoved)
		}
		o.notify()
		return
	}
	if o.point != nil || o.installing || o.ended {
		return
	}
	if o.socket == "" {
		o.err = errors.New("the monitor does not know the plugin's socket")
		o.notify()
		return
	}
	o.err = nil
	o.installing = true
	o.notify()
	go o.install()
}

// install waits for the plugin's socket and puts the point on it, unless
// the point was turned off or the plugin exited meanwhile.
func (o *observer) install() {
	p, err := o.installWhenCreated()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.installing = false
	switch {
	case err != nil:
		o.err = err
	case !o.on || o.ended:
		_ = p.Remove()
	default:
		o.point = p
	}
	o.notify()
	if o.on && o.point == nil && !o.ended && err == nil {
		// Turned off and on again while this install was on its way.
		o.installing = true
		go o.install()
	}
}

func (o *observer) installWhenCreated() (*observe.Point, error) {
	w, err := sockwatch.New(filepath.Dir(o.socket), filepath.Base(o.socket))
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	defer w.Close()
	select {
	case <-w.Created():
	case <-o.stop:
		return nil, errors.New("the plugin exited before it created its socket")
	}
	return observe.Install(o.socket, o.stats)
}

// wait waits up to d for a point being installed to be in place (or to
// fail), and returns the state then.
func (o *observer) wait(d time.Duration) ObserveStatus {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		o.mu.Lock()
		if !o.installing || o.ended {
			s := o.status()
			o.mu.Unlock()
			return s
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			o.mu.Lock()
			defer o.mu.Unlock()
			return o.status()
		}
	}
}

// end removes the point once the container has exited, and ends the
// trace streams, saying so.
func (o *observer) end() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return
	}
	o.ended = true
	close(o.stop)
	if p := o.point; p != nil {
		o.point = nil
		p.Trace(nil)
		_ = p.Remove()
	}
	o.endTraces(TraceExited)
	o.notify()
}

// snapshot returns the counters with the point's state.
func (o *observer) snapshot() types.CallStats {
	c := o.stats.Snapshot()
	o.mu.Lock()
	s := o.status()
	o.mu.Unlock()
	c.Observed, c.Recording, c.Error = s.On, s.Recording, s.Error
	return c
}
