package manager

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/plugdbg/plugdbg/api/execproto"
)

// Observer is told, synchronously, of what the manager does, for the
// daemon's metrics (package runtime/metrics): the manager knows nothing of
// Prometheus. Its methods run on the manager's own paths, so they must be
// fast, must not block and must not call the manager.
type Observer interface {
	// Event sees every event the manager publishes, in order and none
	// lost (unlike a subscriber, which may fall behind and lose some).
	// It is called under the event hub's lock.
	Event(events.Message)
	// Enabled sees how long each successful Enable took: from the time it
	// held the plugin (its lifecycle lock) until the plugin answered
	// Plugin.Activate and was saved enabled.
	Enabled(time.Duration)
}

// ExecSessions counts the exec sessions of one plugin during this
// daemon's life: those whose process runs now (started and not yet
// closed), and all that were started.
type ExecSessions struct {
	Running int64
	Total   uint64
}

// execCounts is an entry's ExecSessions, updated without Manager.mu.
type execCounts struct {
	running atomic.Int64
	total   atomic.Uint64
}

// ExecSessions returns the exec sessions of every plugin, by plugin ID.
func (m *Manager) ExecSessions() map[string]ExecSessions {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]ExecSessions, len(m.plugins))
	for id, e := range m.plugins {
		out[id] = ExecSessions{Running: e.sessions.running.Load(), Total: e.sessions.total.Load()}
	}
	return out
}

// countSession counts proc as a session of e until it is closed: every
// user of an exec (execproto.Serve, the API's failure paths) closes it.
// The result is an execproto.Group whenever proc is one.
func countSession(e *entry, proc execproto.Process) execproto.Process {
	e.sessions.total.Add(1)
	e.sessions.running.Add(1)
	p := &countedProcess{Process: proc, end: func() { e.sessions.running.Add(-1) }}
	if g, ok := proc.(execproto.Group); ok {
		return countedGroup{p, g}
	}
	return p
}

// countedProcess ends its session's count once, at the first Close.
type countedProcess struct {
	execproto.Process
	once sync.Once
	end  func()
}

func (p *countedProcess) Close() error {
	err := p.Process.Close()
	p.once.Do(p.end)
	return err
}

// countedGroup is a countedProcess of a process that is an
// execproto.Group, so that Serve can still hang up its whole group.
type countedGroup struct {
	*countedProcess
	g execproto.Group
}

func (p countedGroup) SignalGroup(sig syscall.Signal) (int, error) { return p.g.SignalGroup(sig) }
