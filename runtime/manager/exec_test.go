package manager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/spec"
)

func TestExecRefusesPluginsThatDoNotRun(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	_, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)

	_, err = m.Exec("nosuch", types.ExecConfig{Cmd: []string{"sh"}})
	assert.True(t, errdefs.IsNotFound(err), "unknown plugin: %v", err)

	_, err = m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
	assert.True(t, errdefs.IsConflict(err), "disabled plugin: %v", err)
	assert.ErrorContains(t, err, "disabled")

	_, err = m.Top("p")
	assert.True(t, errdefs.IsConflict(err), "top of a disabled plugin: %v", err)
	_, err = m.Stats("p")
	assert.True(t, errdefs.IsConflict(err), "stats of a disabled plugin: %v", err)

	_, err = m.Exec("p", types.ExecConfig{})
	assert.True(t, errdefs.IsInvalidArgument(err), "no command: %v", err)
	assert.Empty(t, x.execs, "nothing reached the executor")
}

func TestExecGetsThePluginsEnvironment(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Set("p", []string{"DEBUG=1"}))
	require.NoError(t, m.Enable(ctx, "p", 10*time.Second))

	c := types.ExecConfig{Cmd: []string{"sh", "-c", "env"}, Env: []string{"X=1"}, Tty: true}
	_, err = m.Exec("p", c)
	var se *execproto.StartError
	require.True(t, errors.As(err, &se), "the fake's start error comes back unchanged: %v", err)
	assert.Equal(t, 127, se.ExitCode)

	x.mu.Lock()
	defer x.mu.Unlock()
	require.Len(t, x.execs, 1)
	got := x.execs[0]
	assert.Equal(t, id, got.id)
	assert.Equal(t, c, got.c)
	assert.Equal(t, []string{spec.DefaultPath, "DEBUG=1"}, got.base.Env)
	assert.Equal(t, "/", got.base.Cwd)
}

// TestStopWaitsForExecsStarting starts a disable while an exec is joining
// the container: the stop waits for that start, and execs asked for
// meanwhile are refused as the plugin is stopping.
func TestStopWaitsForExecsStarting(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	_, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "p", 10*time.Second))
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	x.mu.Lock()
	x.execGate, x.execEntered = gate, entered
	x.mu.Unlock()

	execDone := make(chan error, 1)
	go func() {
		_, err := m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
		execDone <- err
	}()
	<-entered
	disabled := make(chan error, 1)
	go func() { disabled <- m.Disable(ctx, "p", false) }()
	require.Eventually(t, func() bool {
		p, err := m.Inspect("p")
		return err == nil && p.State.Status == types.StatusStopping
	}, 10*time.Second, 5*time.Millisecond, "the disable never began its stop")

	_, err = m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
	assert.True(t, errdefs.IsConflict(err), "exec during a stop: %v", err)
	assert.ErrorIs(t, err, ErrStopping)
	assert.EqualError(t, err, "cannot exec in plugin p:latest: plugin is stopping")
	_, err = m.Top("p")
	assert.ErrorIs(t, err, ErrStopping)

	x.mu.Lock()
	assert.Empty(t, x.ops, "the stop waits for the exec starting")
	x.mu.Unlock()
	close(gate)
	var se *execproto.StartError
	assert.ErrorAs(t, <-execDone, &se, "the exec that was starting ends as the executor says")
	require.NoError(t, <-disabled)
	x.mu.Lock()
	assert.Equal(t, []string{"exec done", "stop"}, x.ops)
	x.mu.Unlock()
	p, err := m.Inspect("p")
	require.NoError(t, err)
	assert.False(t, p.Enabled)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
}

// TestDisableThatCannotStopKeepsThePluginEnabled: a plugin that does not
// exit is reported still running, not recorded as disabled.
func TestDisableThatCannotStopKeepsThePluginEnabled(t *testing.T) {
	old := stopSlack
	stopSlack = 10 * time.Millisecond
	t.Cleanup(func() { stopSlack = old })
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "p", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "p", 10*time.Second))
	x.mu.Lock()
	run := x.runs[id]
	x.mu.Unlock()
	run.stuck.Store(true)

	err = m.Disable(ctx, "p", true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin did not exit")
	assert.Contains(t, err.Error(), "it is still enabled and running")
	p, err := m.Inspect("p")
	require.NoError(t, err)
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	assert.Equal(t, run.hello.Pid, p.State.Pid)
	_, err = m.Exec("p", types.ExecConfig{Cmd: []string{"sh"}})
	var se *execproto.StartError
	assert.ErrorAs(t, err, &se, "the plugin still takes execs")

	run.stuck.Store(false)
	require.NoError(t, m.Disable(ctx, "p", true), "a later disable stops it")
	p, err = m.Inspect("p")
	require.NoError(t, err)
	assert.False(t, p.Enabled)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
}
