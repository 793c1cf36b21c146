package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// traceBuffer is how many records a trace subscriber may lag behind before
// it loses records (never calls: the proxy does not wait for subscribers).
const traceBuffer = 4096

// pointTraceTimeout bounds the attaching of a trace to a run's recording
// point; past it, the trace puts a proxy of its own on the socket.
const pointTraceTimeout = 5 * time.Second

// traceSessions holds one session per traced plugin, shared by its watchers.
type traceSessions struct {
	mu   sync.Mutex
	byID map[string]*traceSession
}

// traceSession is the trace of one plugin, shared by its watchers. Its
// records come from the recording point of the plugin's run when the
// plugin is observed and its monitor can stream them (one hop, one
// parser: the point's), else from a proxy of the trace's own on the
// plugin's socket (tracer.Proxy), on top of the point if there is one.
type traceSession struct {
	id, name string
	sock     string                          // the plugin's socket path
	done     chan struct{}                   // closed by StopTraces
	ready    chan struct{}                   // closed once the first attach is done
	subs     map[chan types.TraceRecord]*int // watcher -> records it lost; guarded by traceSessions.mu

	// mu serialises what moves the trace (its first attach, following a
	// restart, the fall back to a proxy, the stop), and guards:
	mu     sync.Mutex
	opened bool          // the first attach is done
	err    error         // why it failed
	proxy  *tracer.Proxy // the trace's own proxy, if it has one
	point  PointTrace    // the stream from the run's recording point, if it reads one
	closed bool
}

// Trace records the calls made on an enabled plugin's socket: it calls
// started with the socket's path once every call made on that path
// afterwards reaches fn, then fn with each call, in order, until ctx ends
// or fn fails. The calls come from the plugin's recording point when it is
// observed and its monitor can stream them, else from a recording proxy
// the trace interposes on the socket. When the plugin restarts, the trace
// follows its new run and started is called again once it is in place; when
// the recording point is removed (observe --off), a proxy takes its place,
// with a record saying so, and started is called again. Watchers of the same
// plugin share one trace; the last one to leave puts the plugin's socket
// back. Each call is also published as a "call" event. A watcher that falls
// more than traceBuffer records behind loses records, which are counted in
// a record's Err, as are records the plugin's monitor could not hand to a
// daemon reading too slowly; the calls themselves are never held up.
func (m *Manager) Trace(ctx context.Context, ref string, started func(socket string), fn func(types.TraceRecord) error) error {
	e, err := m.find(ref)
	if err != nil {
		return err
	}
	m.mu.Lock()
	p := e.p
	sock := m.socketPath(p)
	m.mu.Unlock()
	if !p.Enabled {
		return errkind.Conflict(fmt.Errorf("plugin %s is not enabled", p.Name))
	}

	ch := make(chan types.TraceRecord, traceBuffer)
	var dropped int
	t := &m.traces
	t.mu.Lock()
	if t.byID == nil {
		t.byID = map[string]*traceSession{}
	}
	s := t.byID[p.ID]
	first := s == nil
	if first {
		s = &traceSession{id: p.ID, name: p.Name, sock: sock, subs: map[chan types.TraceRecord]*int{}, done: make(chan struct{}), ready: make(chan struct{})}
		t.byID[p.ID] = s
	}
	s.subs[ch] = &dropped
	t.mu.Unlock()
	defer m.leaveTrace(s, ch)
	if first {
		if err := m.openTrace(e, s); err != nil {
			t.mu.Lock()
			if t.byID[p.ID] == s {
				delete(t.byID, p.ID)
			}
			t.mu.Unlock()
		} else {
			m.traceStarted(p.ID)
		}
		close(s.ready)
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil
	}
	s.mu.Lock()
	err = s.err
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("trace %s: %w", p.Name, err)
	}

	started(sock)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case r := <-ch:
			if r.Tracing != "" { // the trace follows the plugin's new socket
				started(r.Tracing)
				continue
			}
			t.mu.Lock()
			n := dropped
			dropped = 0
			t.mu.Unlock()
			if n > 0 {
				if err := fn(types.TraceRecord{Time: time.Now(), Err: fmt.Sprintf("trace: %d records lost by a slow watcher", n)}); err != nil {
					return err
				}
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
}

// leaveTrace removes watcher ch from s; the last to leave stops the trace.
func (m *Manager) leaveTrace(s *traceSession, ch chan types.TraceRecord) {
	t := &m.traces
	t.mu.Lock()
	delete(s.subs, ch)
	last := len(s.subs) == 0
	if last && t.byID[s.id] == s {
		delete(t.byID, s.id)
	}
	t.mu.Unlock()
	if last {
		m.stopTrace(s)
	}
}

// openTrace puts the new trace s on its plugin e: on the recording point
// if it can, else with a proxy of its own, after putting back a socket a
// trace of a killed daemon left moved aside.
func (m *Manager) openTrace(e *entry, s *traceSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = true
	s.err = m.attachTrace(e, s)
	return s.err
}

func (m *Manager) attachTrace(e *entry, s *traceSession) error {
	if s.closed {
		return errors.New("the daemon is stopping")
	}
	if found, err := restoreStaleTrace(s.sock); found {
		m.setStaleTrace(e, err)
		if err != nil {
			return err
		}
	}
	if m.attachPoint(s) {
		return nil
	}
	return m.attachProxy(s)
}

// attachPoint makes s read the calls from the recording point of its
// plugin's run, and reports whether it does: not if the plugin is not
// recorded, its executor cannot stream, or its monitor cannot (one of an
// earlier plugdbg). Caller holds s.mu.
func (m *Manager) attachPoint(s *traceSession) bool {
	x, ok := m.opts.Executor.(TracingExecutor)
	if !ok {
		return false
	}
	m.mu.Lock()
	e := m.plugins[s.id]
	recording := e != nil && e.state.Recording
	m.mu.Unlock()
	if !recording {
		return false
	}
	log := m.log.WithField("plugin", s.id)
	ctx, cancel := context.WithTimeout(context.Background(), pointTraceTimeout)
	pt, err := x.TracePoint(ctx, s.id)
	cancel()
	if err != nil {
		log.WithError(err).Info("trace: the recording point cannot stream the calls: the trace puts a proxy of its own on top of it")
		return false
	}
	s.point = pt
	go m.readPoint(s, pt)
	log.Infof("trace: reading the calls from the recording point on %s", s.sock)
	return true
}

// attachProxy puts a recording proxy of s's own on its plugin's socket.
// Caller holds s.mu.
func (m *Manager) attachProxy(s *traceSession) error {
	px, err := tracer.Start(s.sock, func(r types.TraceRecord) { m.traced(s, r) })
	if err != nil {
		return err
	}
	s.proxy = px
	m.log.WithField("plugin", s.id).Infof("trace: proxy on %s", s.sock)
	return nil
}

// readPoint hands the records of the stream pt from the recording point to
// the watchers of s until it ends. If the point was removed, or the stream
// broke, a proxy of the trace's own takes its place; if the plugin exited,
// followTrace puts the trace on its next run.
func (m *Manager) readPoint(s *traceSession, pt PointTrace) {
	var end monitor.TraceEnd
	var err error
	for end == "" {
		var msg monitor.TraceMessage
		if msg, err = pt.Next(); err != nil {
			break
		}
		if msg.Lost > 0 {
			m.fanOut(s, types.TraceRecord{Time: time.Now(), Err: fmt.Sprintf("trace: %d records lost by the plugin's monitor: the daemon read them too slowly", msg.Lost)})
		}
		if msg.Record != nil {
			m.traced(s, *msg.Record)
		}
		end = msg.End
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.point != pt {
		return // stopped, or on the plugin's next run already
	}
	s.point = nil
	_ = pt.Close()
	log := m.log.WithField("plugin", s.id)
	switch end {
	case monitor.TraceExited:
		log.Info("trace: the plugin's run ended, and with it its recording point; the trace waits for the next run")
		return
	case monitor.TraceRemoved:
		log.Infof("trace: the recording point was removed from %s: the trace puts a proxy of its own in its place", s.sock)
		m.fanOut(s, types.TraceRecord{Time: time.Now(), Err: "trace: the recording point was removed (observe --off): the trace goes on through a proxy of its own"})
	default:
		log.WithError(err).Warn("trace: the stream from the recording point broke: the trace puts a proxy of its own in its place")
		m.fanOut(s, types.TraceRecord{Time: time.Now(), Err: fmt.Sprintf("trace: the stream from the plugin's monitor broke (%v): the trace goes on through a proxy of its own", err)})
	}
	if err := m.attachProxy(s); err != nil {
		log.WithError(err).Error("trace: put a proxy on the plugin's socket")
		m.fanOut(s, types.TraceRecord{Time: time.Now(), Err: fmt.Sprintf("trace: put a proxy on %s: %v; calls are no longer recorded", s.sock, err)})
		return
	}
	m.fanOut(s, tracer.StartRecord(s.sock))
}

// stopTrace ends trace s: it closes its stream from the recording point,
// or stops its proxy, putting the plugin's socket back.
func (m *Manager) stopTrace(s *traceSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	log := m.log.WithField("plugin", s.id)
	if pt := s.point; pt != nil {
		s.point = nil
		_ = pt.Close()
		log.Info("trace: stream from the recording point closed")
	}
	if px := s.proxy; px != nil {
		s.proxy = nil
		if err := px.Stop(); err != nil {
			log.WithError(err).Error("trace: restore the socket")
		} else {
			log.Infof("trace: socket %s restored", s.sock)
		}
	}
}

// StopTraces ends every trace and puts every traced socket back; the
// daemon calls it before it stops serving, so that no socket stays moved
// aside when it exits.
func (m *Manager) StopTraces() {
	t := &m.traces
	t.mu.Lock()
	sessions := t.byID
	t.byID = nil
	t.mu.Unlock()
	for _, s := range sessions {
		m.stopTrace(s)
		close(s.done)
	}
}

// traced fans one record out to the watchers of s and to the event stream.
func (m *Manager) traced(s *traceSession, r types.TraceRecord) {
	m.fanOut(s, r)
	m.traceRecord(s.id, r)
	attrs := map[string]string{
		"method":  r.Method,
		"status":  strconv.Itoa(r.Status),
		"latency": strconv.FormatInt(int64(r.Latency), 10),
		"conn":    strconv.Itoa(r.Conn),
	}
	if r.Err != "" {
		attrs["err"] = r.Err
	}
	m.emit(s.id, s.name, types.ActionCall, attrs)
}

// fanOut hands r to every watcher of s that has room for it.
func (m *Manager) fanOut(s *traceSession, r types.TraceRecord) {
	m.traces.mu.Lock()
	defer m.traces.mu.Unlock()
	for ch, dropped := range s.subs {
		select {
		case ch <- r:
		default:
			*dropped++
		}
	}
}

// followTrace puts a running trace of plugin id on its new run, whose
// socket sock the plugin made anew as it (re)started, and tells the
// trace's watchers: with a start record once calls on sock are recorded
// again, or with a record of why they cannot be. The trace reads the new
// run's recording point if it can, else puts its proxy back in front of
// the socket.
func (m *Manager) followTrace(id, sock string) {
	m.traces.mu.Lock()
	s := m.traces.byID[id]
	m.traces.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened || s.closed || s.err != nil {
		return // not on a run yet (its first attach is to come, on this one), or over
	}
	log := m.log.WithField("plugin", id)
	if pt := s.point; pt != nil { // the last run's, which has ended
		s.point = nil
		_ = pt.Close()
	}
	if m.attachPoint(s) {
		if px := s.proxy; px != nil {
			// Its sockets went with the last run's socket directory.
			s.proxy = nil
			if err := px.Stop(); err != nil {
				log.WithError(err).Warn("trace: stop the proxy of the last run")
			}
		}
		m.fanOut(s, tracer.StartRecord(sock))
		return
	}
	var moved bool
	var err error
	if s.proxy != nil {
		moved, err = s.proxy.Resume()
	} else if err = m.attachProxy(s); err == nil {
		moved = true
	}
	switch {
	case err != nil:
		log.WithError(err).Error("trace: follow the plugin's new socket")
		m.fanOut(s, types.TraceRecord{Time: time.Now(), Err: fmt.Sprintf("trace: follow the plugin's new socket: %v; calls are no longer recorded", err)})
	case moved:
		log.Infof("trace: proxy on %s again, the plugin's new socket", sock)
		m.fanOut(s, tracer.StartRecord(sock))
	}
}

// restoreStaleTrace puts back a plugin socket a trace left moved aside (a
// daemon killed while tracing), unless the plugin listens at the path again.
// It reports whether there was one, and what kept it from being put back.
func restoreStaleTrace(sock string) (found bool, err error) {
	aside := tracer.AsidePath(sock)
	if _, err := os.Lstat(aside); err != nil {
		return false, nil
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		if err := os.Remove(aside); err != nil {
			return true, fmt.Errorf("remove the stale %s: %w", aside, err)
		}
		return true, nil
	}
	// The path holds the dead proxy's socket: the rename replaces it.
	if err := os.Rename(aside, sock); err != nil {
		return true, fmt.Errorf("put the plugin's socket back from %s: %w", aside, err)
	}
	return true, nil
}

// fixStaleTrace puts back the socket of plugin e, reattached after a daemon
// that died while tracing it, so that its path reaches the plugin again
// without waiting for a trace or a restart. What cannot be fixed shows in
// State.StaleTrace until a trace or a start fixes it.
func (m *Manager) fixStaleTrace(e *entry) {
	m.mu.Lock()
	id, sock := e.p.ID, m.socketPath(e.p)
	m.mu.Unlock()
	found, err := restoreStaleTrace(sock)
	if !found {
		return
	}
	m.setStaleTrace(e, err)
	log := m.log.WithField("plugin", id)
	if err != nil {
		log.WithError(err).Errorf("trace: the socket %s is still moved aside by a trace that ended with its daemon", sock)
		return
	}
	log.Infof("trace: socket %s put back from a trace that ended with its daemon", sock)
}

// setStaleTrace records in e's State why a stale trace could not be
// undone, or clears it when err is nil.
func (m *Manager) setStaleTrace(e *entry, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.state.StaleTrace = ""
	if err != nil {
		e.state.StaleTrace = fmt.Sprintf("the plugin's socket is moved aside by a trace that ended with its daemon, and the path reaches no plugin: %v", err)
	}
}
