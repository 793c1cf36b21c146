package manager

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// traceBuffer is how many records a trace subscriber may lag behind before
// it loses records (never calls: the proxy does not wait for subscribers).
const traceBuffer = 4096

// traceSessions holds one proxy per traced plugin, shared by its watchers.
type traceSessions struct {
	mu   sync.Mutex
	byID map[string]*traceSession
}

type traceSession struct {
	done  chan struct{} // closed by StopTraces
	proxy *tracer.Proxy
	subs  map[chan types.TraceRecord]*int // watcher -> records it lost
}

// Trace interposes a recording proxy on an enabled plugin's socket, calls
// started with the socket's path once the proxy is in place there (any
// call made on that path afterwards reaches fn), then fn with each call
// made through it, in order, until ctx ends or fn fails. When the plugin
// restarts, the proxy follows its new socket and started is called again
// once it is in place. Watchers of the same plugin share one proxy; the
// last one to leave puts the plugin's socket back. Each call is also published as a "call" event. A watcher
// that falls more than traceBuffer records behind loses records, which are
// counted in a final record's Err; the calls themselves are never held up.
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
	if s == nil {
		if found, err := restoreStaleTrace(sock); found {
			m.setStaleTrace(e, err)
			if err != nil {
				t.mu.Unlock()
				return fmt.Errorf("trace %s: %w", p.Name, err)
			}
		}
		s = &traceSession{subs: map[chan types.TraceRecord]*int{}, done: make(chan struct{})}
		s.proxy, err = tracer.Start(sock, func(r types.TraceRecord) { m.traced(p.ID, p.Name, s, r) })
		if err != nil {
			t.mu.Unlock()
			return fmt.Errorf("trace %s: %w", p.Name, err)
		}
		t.byID[p.ID] = s
		m.traceStarted(p.ID)
		m.log.WithField("plugin", p.ID).Infof("trace: proxy on %s", sock)
	}
	s.subs[ch] = &dropped
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(s.subs, ch)
		last := len(s.subs) == 0
		if last && t.byID[p.ID] == s {
			delete(t.byID, p.ID)
		}
		t.mu.Unlock()
		if last {
			if err := s.proxy.Stop(); err != nil {
				m.log.WithField("plugin", p.ID).WithError(err).Error("trace: restore the socket")
			} else {
				m.log.WithField("plugin", p.ID).Infof("trace: socket %s restored", sock)
			}
		}
	}()

	started(sock)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case r := <-ch:
			if r.Tracing != "" { // the proxy follows the plugin's new socket
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

// StopTraces ends every trace and puts every traced socket back; the
// daemon calls it before it stops serving, so that no socket stays moved
// aside when it exits.
func (m *Manager) StopTraces() {
	t := &m.traces
	t.mu.Lock()
	sessions := t.byID
	t.byID = nil
	t.mu.Unlock()
	for id, s := range sessions {
		if err := s.proxy.Stop(); err != nil {
			m.log.WithField("plugin", id).WithError(err).Error("trace: restore the socket")
		}
		close(s.done)
	}
}

// traced fans one record out to the watchers of s and to the event stream.
func (m *Manager) traced(id, name string, s *traceSession, r types.TraceRecord) {
	m.fanOut(s, r)
	m.traceRecord(id, r)
	attrs := map[string]string{
		"method":  r.Method,
		"status":  strconv.Itoa(r.Status),
		"latency": strconv.FormatInt(int64(r.Latency), 10),
		"conn":    strconv.Itoa(r.Conn),
	}
	if r.Err != "" {
		attrs["err"] = r.Err
	}
	m.emit(id, name, types.ActionCall, attrs)
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

// followTrace puts a running trace of plugin id back in front of its
// socket sock, which the plugin made anew as it (re)started, and tells the
// trace's watchers: with a start record once calls on sock are recorded
// again, or with a record of why they cannot be.
func (m *Manager) followTrace(id, sock string) {
	m.traces.mu.Lock()
	s := m.traces.byID[id]
	m.traces.mu.Unlock()
	if s == nil {
		return
	}
	log := m.log.WithField("plugin", id)
	moved, err := s.proxy.Resume()
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
