package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// TestMonitorKilled kills a plugin's monitor while the daemon runs: the
// daemon loses sight of the plugin, so it must stop the orphaned container
// and run the plugin again, as after a crash.
func TestMonitorKilled(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")
	createVolume(t, p.State.Socket, "kept")
	monitors := d.monitorPids(p.ID)
	require.Len(t, monitors, 1)
	evs := d.events(t)

	require.NoError(t, syscall.Kill(monitors[0], syscall.SIGKILL))
	var actions []events.Action
	deadline := time.After(waitTimeout)
	for len(actions) == 0 || actions[len(actions)-1] != types.ActionRestart {
		select {
		case m := <-evs:
			if m.Actor.ID != p.ID {
				continue
			}
			actions = append(actions, m.Action)
			if m.Action == types.ActionExit {
				assert.Equal(t, "-1", m.Actor.Attributes["exitCode"])
				assert.Contains(t, m.Actor.Attributes["error"], "monitor connection lost")
			}
		case <-deadline:
			require.FailNowf(t, "plugin not restarted after its monitor was killed", "events %v", actions)
		}
	}
	assert.Equal(t, []events.Action{types.ActionExit, types.ActionRestarting, types.ActionRestart}, actions)
	assert.False(t, alive(p.State.Pid), "the container of the killed monitor still runs")
	q := d.inspect(t, "vol")
	assert.Equal(t, types.StatusRunning, q.State.Status)
	assert.NotEqual(t, p.State.Pid, q.State.Pid)
	assert.Equal(t, 1, q.State.RestartCount)
	require.NotNil(t, q.State.LastExit)
	assert.Equal(t, -1, q.State.LastExit.ExitCode)
	assert.Equal(t, []string{"kept"}, volumeNames(t, q.State.Socket))
	assert.Len(t, d.monitorPids(p.ID), 1)
}

// TestSpareMonitorKilled kills the spare monitor the daemon keeps booted for
// the next enable: that enable must still work, with a new monitor.
func TestSpareMonitorKilled(t *testing.T) {
	tests := []struct {
		name string
		// handedOver kills the spare after the daemon gave it the job
		// (while it is stopped and cannot read it), rather than while idle.
		handedOver bool
	}{
		{name: "while idle"},
		{name: "after the handover", handedOver: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			id := d.create(t, "vol", "volume").ID
			var spare int
			eventually(t, func() bool {
				pids := d.sparePids()
				if len(pids) == 1 {
					spare = pids[0]
				}
				return len(pids) == 1
			}, waitTimeout, "one spare monitor")

			enabled := make(chan error, 1)
			if tt.handedOver {
				require.NoError(t, syscall.Kill(spare, syscall.SIGSTOP))
				// Stopped, not just signalled: one not yet scheduled
				// could otherwise read the job first.
				eventually(t, func() bool { st, _, _ := procStat(spare); return st == 'T' }, waitTimeout, "spare stopped")
				go func() { enabled <- d.client.Enable(context.Background(), "vol", 30*time.Second) }()
				eventually(t, func() bool { return pipeQueued(t, spare, 0) > 0 }, waitTimeout, "daemon wrote the job to the spare's stdin")
				require.NoError(t, syscall.Kill(spare, syscall.SIGKILL))
			} else {
				require.NoError(t, syscall.Kill(spare, syscall.SIGKILL))
				eventually(t, func() bool { return !alive(spare) }, waitTimeout, "spare gone")
				go func() { enabled <- d.client.Enable(context.Background(), "vol", 30*time.Second) }()
			}
			require.NoError(t, <-enabled, "enable after the spare monitor was killed")
			p := d.inspect(t, "vol")
			assert.Equal(t, types.StatusRunning, p.State.Status)
			assert.Equal(t, []string{}, volumeNames(t, p.State.Socket))
			mons := d.monitorPids(id)
			assert.Len(t, mons, 1)
			assert.NotContains(t, mons, spare)
			eventually(t, func() bool { return len(d.sparePids()) == 1 }, waitTimeout, "a new spare monitor")
		})
	}
}

// sparePids lists the daemon's spare monitors: booted, not yet given a
// plugin, with their stderr on <exec-root>/monitors/spare.log.
func (d *daemon) sparePids() []int {
	var out []int
	spareLog := filepath.Join(d.execRoot, "monitors", "spare.log")
	for _, p := range processes() {
		if len(p.args) >= 2 && p.args[1] == monitor.Argv1 && p.stderr == spareLog {
			out = append(out, p.pid)
		}
	}
	return out
}

// pipeQueued returns how many bytes wait in the pipe that is fd of pid.
func pipeQueued(t *testing.T, pid, fd int) int {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer f.Close()
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
	require.NoError(t, err)
	return n
}
