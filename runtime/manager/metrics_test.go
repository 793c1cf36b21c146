package manager

import (
	"context"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// recordingObserver keeps what an Observer is told.
type recordingObserver struct {
	mu      sync.Mutex
	events  []events.Message
	enables []time.Duration
}

func (o *recordingObserver) Event(m events.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, m)
}

func (o *recordingObserver) Enabled(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.enables = append(o.enables, d)
}

// count returns how many events of action the observer saw.
func (o *recordingObserver) count(action events.Action) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.events {
		if m.Action == action {
			n++
		}
	}
	return n
}

// TestObserverSeesEveryEvent: the observer is told of every event, in
// order, and of each successful enable; it sees one restarting event per
// restart counted in State.RestartCount, a failed restart included.
func TestObserverSeesEveryEvent(t *testing.T) {
	obs := &recordingObserver{}
	m, x := newObservedManager(t, obs)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))

	// Two crashes, each restarted.
	for i := 1; i <= 2; i++ {
		x.crash(id, 3)
		require.Eventually(t, func() bool { return obs.count(types.ActionRestart) == i }, 5*time.Second, time.Millisecond, "restart %d", i)
	}
	// A crash whose restart fails once, then succeeds.
	x.mu.Lock()
	x.failing = true
	x.mu.Unlock()
	x.crash(id, 4)
	require.Eventually(t, func() bool { return obs.count(types.ActionRestarting) == 4 }, 5*time.Second, time.Millisecond, "the failed restart's restarting event")
	x.mu.Lock()
	x.failing = false
	x.mu.Unlock()
	require.Eventually(t, func() bool { return obs.count(types.ActionRestart) == 3 }, 5*time.Second, time.Millisecond)

	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.Equal(t, p.State.RestartCount, obs.count(types.ActionRestarting))
	assert.Equal(t, 3, obs.count(types.ActionExit))
	require.NoError(t, m.Disable(ctx, "fake", false))
	require.NoError(t, m.Remove(ctx, "fake", false))

	obs.mu.Lock()
	defer obs.mu.Unlock()
	var got []string
	for _, ev := range obs.events {
		got = append(got, string(ev.Action))
	}
	assert.Equal(t, "create enable exit restarting restart exit restarting restart exit restarting restarting restart disable remove", strings.Join(got, " "))
	require.Len(t, obs.enables, 1)
	assert.Positive(t, obs.enables[0])
}

// fakeProcess is an exec's process that has exited at once.
type fakeProcess struct{ closed int }

func (p *fakeProcess) Stdin() io.WriteCloser { return nil }
func (p *fakeProcess) Output() (io.Reader, io.Reader) {
	return strings.NewReader(""), strings.NewReader("")
}
func (p *fakeProcess) Resize(types.WindowSize) error           { return nil }
func (p *fakeProcess) Signal(syscall.Signal) error             { return nil }
func (p *fakeProcess) Wait() types.ExecExit                    { return types.ExecExit{} }
func (p *fakeProcess) Close() error                            { p.closed++; return nil }
func (p *fakeProcess) SignalGroup(syscall.Signal) (int, error) { return 7, nil }

// TestExecSessionsCounted: a session counts as running from its start to
// its first Close, and in the total for ever; a command that cannot start
// is no session. The counted process is still a Group.
func TestExecSessionsCounted(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "p", 5*time.Second))
	assert.Equal(t, map[string]ExecSessions{id: {}}, m.ExecSessions())

	_, err = m.Exec("p", types.ExecConfig{Cmd: []string{"nosuch"}})
	require.Error(t, err, "the fake's command not found")
	assert.Equal(t, ExecSessions{}, m.ExecSessions()[id], "a command that did not start is no session")

	var procs []*fakeProcess
	x.mu.Lock()
	x.execProc = func() execproto.Process {
		p := &fakeProcess{}
		procs = append(procs, p)
		return p
	}
	x.mu.Unlock()
	a, err := m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
	require.NoError(t, err)
	b, err := m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
	require.NoError(t, err)
	assert.Equal(t, ExecSessions{Running: 2, Total: 2}, m.ExecSessions()[id])

	g, ok := a.(execproto.Group)
	require.True(t, ok, "the counted process of a Group is a Group")
	n, err := g.SignalGroup(0)
	require.NoError(t, err)
	assert.Equal(t, 7, n)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close()) // twice: counted once
	assert.Equal(t, ExecSessions{Running: 1, Total: 2}, m.ExecSessions()[id])
	require.NoError(t, b.Close())
	assert.Equal(t, ExecSessions{Running: 0, Total: 2}, m.ExecSessions()[id])
	assert.Equal(t, 2, procs[0].closed, "Close reaches the process each time")
}
