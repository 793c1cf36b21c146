package manager

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// sweepExecutor is the fake executor of a restarted daemon: it reports
// leftovers as a real one would find them, records Cleanup calls, and
// attaches to runs the test hands it.
type sweepExecutor struct {
	*fakeExecutor
	left map[string]monitor.Leftover

	mu       sync.Mutex
	cleaned  []string
	attached map[string]*fakeRun
}

func (x *sweepExecutor) Leftovers() (map[string]monitor.Leftover, error) { return x.left, nil }

func (x *sweepExecutor) Cleanup(id string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.cleaned = append(x.cleaned, id)
	return nil
}

func (x *sweepExecutor) Attach(id string) (Run, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.attached[id]; ok {
		return r, nil
	}
	return nil, monitor.ErrNoMonitor
}

// restarted starts a second manager on m's roots with executor x, as a
// daemon started after m's was killed, and restores.
func restarted(t *testing.T, m *Manager, x Executor) *Manager {
	t.Helper()
	m.Shutdown()
	opts := m.opts
	opts.Executor = x
	m2, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(m2.Shutdown)
	require.NoError(t, m2.Restore(context.Background()))
	return m2
}

func TestRestoreRemovesWhatNoEnabledPluginOwns(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	orphan, err := m.Create(ctx, "orphan", buildContext(t, fakeConfig))
	require.NoError(t, err)
	stopped, err := m.Create(ctx, "stopped", buildContext(t, fakeConfig))
	require.NoError(t, err)
	removed := strings.Repeat("c", 64)
	for _, id := range []string{orphan, removed} {
		require.NoError(t, os.MkdirAll(m.socketDir(id), 0o700))
	}

	sx := &sweepExecutor{fakeExecutor: x, left: map[string]monitor.Leftover{
		removed: {Dir: true, State: true},                   // rm killed after the store let go of it
		orphan:  {Dir: true, Monitor: true, MonitorPid: 42}, // enable killed before it was recorded
		stopped: {Dir: true, Finished: true},                // disabled cleanly: its last exit is kept
	}}
	m2 := restarted(t, m, sx)

	assert.ElementsMatch(t, []string{removed, orphan}, sx.cleaned)
	assert.NoDirExists(t, m2.socketDir(removed))
	assert.NoDirExists(t, m2.socketDir(orphan))
	for _, id := range []string{orphan, stopped} {
		p, err := m2.Inspect(id)
		require.NoError(t, err)
		assert.False(t, p.Enabled)
		assert.Equal(t, types.StatusDisabled, p.State.Status)
	}
}

// TestRestoreRequestedStopIsNotACrash: the daemon died after it asked a
// plugin to stop (a disable) and before it recorded it disabled. The run
// the next daemon reattaches to ends with a requested exit: the plugin is
// started again, as the store says enabled, and nothing reports a crash.
func TestRestoreRequestedStopIsNotACrash(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))

	stopping := &fakeRun{id: id, msgs: make(chan monitor.Message, 4), hello: monitor.Hello{Pid: 77, StartedAt: time.Now()}}
	sx := &sweepExecutor{fakeExecutor: x, attached: map[string]*fakeRun{id: stopping}}
	m2 := restarted(t, m, sx)
	ch, cancel := m2.Subscribe()
	defer cancel()
	p, err := m2.Inspect(id)
	require.NoError(t, err)
	require.Equal(t, 77, p.State.Pid, "reattached")

	stopping.msgs <- monitor.Message{Exit: &types.PluginExit{ExitCode: 137, Signal: "SIGKILL", ExitedAt: time.Now(), Requested: true}}
	close(stopping.msgs)
	var got []string
	for !slices.Contains(got, string(types.ActionRestart)) {
		select {
		case ev := <-ch:
			got = append(got, string(ev.Action))
		case <-time.After(5 * time.Second):
			t.Fatalf("plugin not started again; events %v", got)
		}
	}
	assert.Equal(t, []string{string(types.ActionRestart)}, got, "no exit or restarting event: it did not crash")
	p, err = m2.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	assert.Zero(t, p.State.RestartCount)
	require.NotNil(t, p.State.LastExit)
	assert.True(t, p.State.LastExit.Requested)
	assert.NotEqual(t, 77, p.State.Pid)
	_, err = os.Stat(filepath.Join(m2.socketDir(id), "fake.sock"))
	assert.NoError(t, err)
}
