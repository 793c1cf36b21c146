package integration

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

// TestCrashBackoff lets the crasher plugin die 150 ms after each start: the
// daemon restarts it with doubling delays, reports each exit, and a disable
// ends the loop.
func TestCrashBackoff(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		name       string
		settings   []string
		wantCode   int
		wantSignal string
	}{
		{name: "exit code", settings: []string{"CRASH_AFTER=150ms"}, wantCode: 3},
		{name: "SIGSEGV", settings: []string{"CRASH_AFTER=150ms", "CRASH_SIGNAL=SEGV"}, wantCode: 139, wantSignal: "SIGSEGV"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "crash" + strconv.Itoa(i)
			id := d.create(t, name, "crasher", tt.settings...).ID
			evs := d.events(t)
			next := func(timeout time.Duration) (events.Message, bool) {
				deadline := time.After(timeout)
				for {
					select {
					case m, ok := <-evs:
						require.True(t, ok, "event stream ended")
						if m.Actor.ID == id {
							return m, true
						}
					case <-deadline:
						return events.Message{}, false
					}
				}
			}

			d.enable(t, name)
			var (
				actions  []string
				delays   []string
				exits    []map[string]string
				lastExit events.Message
			)
			for len(delays) < 3 {
				m, ok := next(waitTimeout)
				require.True(t, ok, "no event within %s; so far: %v", waitTimeout, actions)
				actions = append(actions, string(m.Action))
				switch m.Action {
				case types.ActionExit:
					exits = append(exits, m.Actor.Attributes)
					lastExit = m
				case types.ActionRestarting:
					delays = append(delays, m.Actor.Attributes["delay"])
					assert.Empty(t, m.Actor.Attributes["error"], "a restart failed")
				case types.ActionRestart:
					// The restart comes no earlier than the delay after the exit.
					delay, err := time.ParseDuration(delays[len(delays)-1])
					require.NoError(t, err)
					gap := time.Duration(m.TimeNano - lastExit.TimeNano)
					assert.GreaterOrEqual(t, gap, delay-20*time.Millisecond, "restart %s after the exit, delay %s", gap, delay)
				}
				assert.Equal(t, "plugin", string(m.Type))
				assert.Equal(t, name+":latest", m.Actor.Attributes["name"])
			}
			assert.Equal(t, []string{"enable",
				"exit", "restarting", "restart",
				"exit", "restarting", "restart",
				"exit", "restarting"}, actions)
			assert.Equal(t, []string{"100ms", "200ms", "400ms"}, delays)
			for _, a := range exits {
				assert.Equal(t, strconv.Itoa(tt.wantCode), a["exitCode"])
				assert.Equal(t, tt.wantSignal, a["signal"])
			}

			p := d.inspect(t, name)
			assert.True(t, p.Enabled)
			assert.GreaterOrEqual(t, p.State.RestartCount, 3)
			require.NotNil(t, p.State.LastExit)
			assert.Equal(t, tt.wantCode, p.State.LastExit.ExitCode)
			assert.Equal(t, tt.wantSignal, p.State.LastExit.Signal)
			assert.Contains(t, d.daemonLog(), "plugin "+name+":latest exited unexpectedly")

			// Disable right after a restart, while the plugin runs.
			for {
				m, ok := next(waitTimeout)
				require.True(t, ok, "no restart event")
				if m.Action == types.ActionRestart {
					break
				}
			}
			require.NoError(t, d.client.Disable(testCtx(t), name, false))
			m, ok := next(waitTimeout)
			require.True(t, ok)
			assert.Equal(t, events.ActionDisable, m.Action)
			p = d.inspect(t, name)
			assert.Equal(t, types.StatusDisabled, p.State.Status)
			assert.False(t, p.Enabled)
			assert.Zero(t, p.State.Pid)
			assert.Nil(t, p.State.NextRestart)
			restarts := p.State.RestartCount

			// The loop is over: a second passes without any event.
			if m, ok := next(time.Second); ok {
				assert.Failf(t, "event after disable", "%s %v", m.Action, m.Actor.Attributes)
			}
			p = d.inspect(t, name)
			assert.Equal(t, types.StatusDisabled, p.State.Status)
			assert.Equal(t, restarts, p.State.RestartCount)
			assertMonitorGone(t, d, id)
			assert.NoDirExists(t, d.socketDir(id))
		})
	}
}

// TestCrashWhileEnableSaves kills a plugin after it answered but while
// enable is still recording it as enabled (its config.json write is held
// with fanotify): the daemon must treat the exit as a crash and restart the
// plugin, not report a dead plugin as running.
func TestCrashWhileEnableSaves(t *testing.T) {
	d := startDaemon(t)
	p := d.create(t, "slowsave", "crasher")
	held, release := holdOpen(t, d.storeDir(p.ID), ".config.json.tmp-")
	evs := d.events(t)

	enabled := make(chan error, 1)
	go func() { enabled <- d.client.Enable(context.Background(), "slowsave", 0) }()
	select {
	case path := <-held:
		t.Logf("enable holds in the write of %s", path)
	case err := <-enabled:
		require.FailNowf(t, "enable returned without writing config.json", "%v", err)
	case <-time.After(waitTimeout):
		require.FailNow(t, "enable never wrote config.json")
	}
	p = d.inspect(t, "slowsave")
	require.Equal(t, types.StatusRunning, p.State.Status, "the plugin answered, enable is saving")
	require.False(t, p.Enabled)
	pid := p.State.Pid
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	eventually(t, func() bool { return d.inspect(t, "slowsave").State.Pid != pid }, waitTimeout, "daemon saw the exit")
	release()
	require.NoError(t, <-enabled)

	seen := map[events.Action]bool{}
	deadline := time.After(waitTimeout)
	for !seen[types.ActionRestart] {
		select {
		case m := <-evs:
			if m.Actor.ID == p.ID {
				seen[m.Action] = true
				if m.Action == types.ActionExit {
					assert.Equal(t, "SIGKILL", m.Actor.Attributes["signal"])
				}
			}
		case <-deadline:
			q := d.inspect(t, "slowsave")
			require.Failf(t, "the crash during enable was never restarted",
				"events %v; state %+v; pid alive %v", seen, q.State, q.State.Pid > 0 && alive(q.State.Pid))
		}
	}
	assert.True(t, seen[types.ActionExit], "exit event")
	assert.True(t, seen[types.ActionRestarting], "restarting event")
	q := d.inspect(t, "slowsave")
	assert.True(t, q.Enabled)
	assert.Equal(t, types.StatusRunning, q.State.Status)
	assert.Equal(t, 1, q.State.RestartCount)
	require.NotNil(t, q.State.LastExit)
	assert.Equal(t, "SIGKILL", q.State.LastExit.Signal)
	assert.NotEqual(t, pid, q.State.Pid)
	assert.True(t, alive(q.State.Pid))
}

// TestRemoveDuringCrashLoop removes a crash-looping plugin with rm -f: its
// pending restart must not bring anything back.
func TestRemoveDuringCrashLoop(t *testing.T) {
	d := startDaemon(t)
	id := d.create(t, "loop", "crasher", "CRASH_AFTER=50ms").ID
	evs := d.events(t)
	d.enable(t, "loop")
	restarting := 0
	deadline := time.After(waitTimeout)
	for restarting < 2 {
		select {
		case m := <-evs:
			if m.Actor.ID == id && m.Action == types.ActionRestarting {
				restarting++
			}
		case <-deadline:
			require.FailNow(t, "no crash loop")
		}
	}
	require.NoError(t, d.client.Remove(testCtx(t), "loop", true))
	assertGone(t, d, id)
	// Events already on their way may come before the remove; none after
	// it, for longer than the pending restart's delay (400 ms at most).
	removed := false
	quiet := time.After(time.Second)
	for {
		select {
		case m := <-evs:
			if m.Actor.ID != id {
				continue
			}
			if removed {
				assert.Failf(t, "event after remove", "%s %v", m.Action, m.Actor.Attributes)
			}
			removed = removed || m.Action == events.ActionRemove
			continue
		case <-quiet:
		}
		break
	}
	assert.True(t, removed, "remove event")
	assertGone(t, d, id)
	assert.Equal(t, 0, containerCount(t, d))
}
