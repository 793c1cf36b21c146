package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

// TestDaemonKill9 kills the daemon with SIGKILL under a running plugin: the
// plugin keeps serving, what it writes meanwhile is not lost, and the next
// daemon reattaches to the same process.
func TestDaemonKill9(t *testing.T) {
	d := startDaemon(t)
	p := d.create(t, "vol", "volume")
	p = d.enable(t, "vol")
	id, pid, sock := p.ID, p.State.Pid, p.State.Socket
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "pdvol listening on", "plugin="+id)) == 1
	}, waitTimeout, "plugin's first line in the daemon log")

	d.kill9()
	assert.Equal(t, []string{}, volumeNames(t, sock), "plugin must answer with no daemon")
	createVolume(t, sock, "during-outage")
	assert.Equal(t, []string{"during-outage"}, volumeNames(t, sock))
	assert.True(t, alive(pid))

	d.restart()
	// The outage's lines: List, Create name=during-outage, List.
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "VolumeDriver.List", "plugin="+id)) >= 2
	}, waitTimeout, "lines the plugin wrote during the outage, in the new daemon's log")
	log := d.daemonLog()
	assert.Len(t, logLines(log, "VolumeDriver.Create", "name=during-outage", "plugin="+id), 1, "re-delivered exactly once")
	assert.Len(t, logLines(log, "VolumeDriver.List", "plugin="+id), 2, "the outage's List calls")
	assert.Empty(t, logLines(log, "pdvol listening on"), "a line the first daemon acknowledged was delivered again")
	assert.Len(t, logLines(log, "reattached to plugin vol:latest (pid "+strconv.Itoa(pid)+")", "plugin="+id), 1)

	p = d.inspect(t, "vol")
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	assert.Equal(t, pid, p.State.Pid, "the restarted daemon must reattach to the same process")
	assert.Zero(t, p.State.RestartCount)
	assert.Len(t, d.monitorPids(id), 1)
	assert.Equal(t, []string{"during-outage"}, volumeNames(t, sock))

	// The reattached daemon still controls the plugin.
	require.NoError(t, d.client.Disable(testCtx(t), "vol", false))
	assert.False(t, alive(pid), "plugin still runs after disable through the new daemon")
	assertMonitorGone(t, d, id)
	assert.NoDirExists(t, d.socketDir(id))
}

// TestDaemonSIGTERM stops the daemon gracefully: plugins keep serving, and
// the next daemon reattaches.
func TestDaemonSIGTERM(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")

	d.stop()
	assert.NoFileExists(t, d.sock, "the daemon socket must go with the daemon")
	assert.True(t, alive(p.State.Pid), "plugin stopped with the daemon")
	createVolume(t, p.State.Socket, "after-stop")
	assert.Equal(t, []string{"after-stop"}, volumeNames(t, p.State.Socket))

	d.start()
	q := d.inspect(t, "vol")
	assert.Equal(t, types.StatusRunning, q.State.Status)
	assert.Equal(t, p.State.Pid, q.State.Pid)
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "VolumeDriver.Create", "name=after-stop", "plugin="+p.ID)) > 0
	}, waitTimeout, "line the plugin wrote while no daemon ran")
}

// TestRebootSimulation kills everything, daemon, monitor and container, as
// a reboot would: the next daemon starts the enabled plugin again.
func TestRebootSimulation(t *testing.T) {
	tests := []struct {
		name string
		// wipe empties the exec root and unmounts the propagated mount, as
		// a reboot does to /run (tmpfs) and to mounts.
		wipe bool
	}{
		{name: "state left behind", wipe: false},
		{name: "exec root wiped", wipe: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			d.create(t, "vol", "volume")
			p := d.enable(t, "vol")
			id, pid := p.ID, p.State.Pid
			createVolume(t, p.State.Socket, "kept")
			monitors := d.monitorPids(id)
			require.Len(t, monitors, 1)

			d.kill9()
			// The monitor first: killed after the container, it would
			// record the exit and clean up, which a reboot does not do.
			require.NoError(t, syscall.Kill(monitors[0], syscall.SIGKILL))
			eventually(t, func() bool { return !alive(monitors[0]) }, waitTimeout, "monitor gone")
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
			eventually(t, func() bool { return !alive(pid) }, waitTimeout, "container gone")
			if tt.wipe {
				for _, mp := range mountsUnder(d.dataRoot) {
					require.NoError(t, unix.Unmount(mp, unix.MNT_DETACH))
				}
				require.Empty(t, mountsUnder(d.dataRoot))
				require.NoError(t, os.RemoveAll(d.execRoot))
			}

			start := time.Now()
			d.start()
			t.Logf("daemon up with the plugin restarted in %s", time.Since(start).Round(time.Millisecond))
			q := d.inspect(t, "vol")
			assert.True(t, q.Enabled)
			assert.Equal(t, types.StatusRunning, q.State.Status)
			require.Positive(t, q.State.Pid)
			assert.NotEqual(t, pid, q.State.Pid, "a new container must run")
			assert.True(t, alive(q.State.Pid))
			assert.Equal(t, []string{"kept"}, volumeNames(t, q.State.Socket), "volume data must survive")
			assert.Len(t, d.monitorPids(id), 1)
			assert.Len(t, logLines(d.daemonLog(), "started plugin vol:latest", "plugin="+id), 1)
			assert.Contains(t, mountsUnder(d.storeDir(id)), filepath.Join(d.storeDir(id), "propagated-mount"))
		})
	}
}

// TestDaemonKilledDuringEnable kills the daemon while an enable is still in
// progress: the container runs, but the plugin was never recorded as
// enabled. The next daemon must show it disabled and stop what the dead one
// left running, and a new enable must work.
func TestDaemonKilledDuringEnable(t *testing.T) {
	tests := []struct {
		name string
		kind string
		// pending waits until the enable is stuck at the interesting point.
		pending func(t *testing.T, d *daemon, id string)
		// reenable is the error substring of the enable after the restart
		// ("" for success).
		reenable string
	}{
		{
			name: "waiting for the socket",
			kind: "nosocket",
			pending: func(t *testing.T, d *daemon, id string) {
				eventually(t, func() bool {
					return len(logLines(d.daemonLog(), "pdnosock listening on", "plugin="+id)) == 1
				}, waitTimeout, "plugin started")
			},
			reenable: "plugin did not create its socket",
		},
		{
			name: "recording the enable",
			kind: "volume",
			pending: func(t *testing.T, d *daemon, id string) {
				held, _ := holdOpen(t, d.storeDir(id), ".config.json.tmp-")
				select {
				case <-held:
				case <-time.After(waitTimeout):
					require.FailNow(t, "enable never wrote config.json")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			id := d.create(t, "p", tt.kind).ID
			enabled := make(chan error, 1)
			var pending sync.WaitGroup
			pending.Go(func() { tt.pending(t, d, id) })
			go func() { enabled <- d.client.Enable(context.Background(), "p", 30*time.Second) }()
			pending.Wait()
			if t.Failed() {
				t.FailNow()
			}
			monitors := d.monitorPids(id)
			require.Len(t, monitors, 1)
			p := d.inspect(t, "p")
			require.Positive(t, p.State.Pid)
			pid := p.State.Pid

			d.kill9()
			var ce *client.ConnError
			assert.ErrorAs(t, <-enabled, &ce, "enable must fail, as a broken connection, when the daemon dies")
			d.start()

			p = d.inspect(t, "p")
			assert.False(t, p.Enabled)
			assert.Equal(t, types.StatusDisabled, p.State.Status)
			assert.Zero(t, p.State.Pid)
			eventually(t, func() bool { return !alive(pid) }, waitTimeout, "container left by the killed daemon still runs")
			eventually(t, func() bool { return !alive(monitors[0]) }, waitTimeout, "monitor left by the killed daemon still runs")
			assert.NoDirExists(t, d.socketDir(id))
			assert.NoDirExists(t, d.containerStateDir(id))
			assert.Empty(t, mountsUnder(d.storeDir(id)))
			assert.Len(t, logLines(d.daemonLog(), "level=warning", "stopping plugin p:latest: it runs but is not enabled", "plugin="+id), 1)

			// An enable that must fail waits out its timeout, so a short
			// one; one that must succeed gets as long as any other wait.
			timeout := waitTimeout
			if tt.reenable != "" {
				timeout = 2 * time.Second
			}
			err := d.client.Enable(testCtx(t), "p", timeout)
			if tt.reenable != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.reenable)
				return
			}
			require.NoError(t, err)
			p = d.inspect(t, "p")
			assert.Equal(t, types.StatusRunning, p.State.Status)
			assert.NotEqual(t, pid, p.State.Pid)
			assert.Equal(t, []string{}, volumeNames(t, p.State.Socket))
			assert.Len(t, d.monitorPids(id), 1)
		})
	}
}

// TestPluginCrashDuringOutage kills the plugin while no daemon runs: its
// monitor records the exit and ends, and the next daemon reports the exit
// and starts the plugin again.
func TestPluginCrashDuringOutage(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")
	monitors := d.monitorPids(p.ID)
	require.Len(t, monitors, 1)

	d.kill9()
	// A line the plugin writes while no daemon runs, just before it dies.
	createVolume(t, p.State.Socket, "before-crash")
	require.NoError(t, syscall.Kill(p.State.Pid, syscall.SIGKILL))
	eventually(t, func() bool { return !alive(monitors[0]) }, waitTimeout, "monitor ends after its plugin, with no daemon attached")
	assert.FileExists(t, filepath.Join(d.monitorDir(p.ID), "exit.json"))

	d.start()
	q := d.inspect(t, "vol")
	assert.True(t, q.Enabled)
	assert.Equal(t, types.StatusRunning, q.State.Status)
	assert.NotEqual(t, p.State.Pid, q.State.Pid)
	assert.True(t, alive(q.State.Pid))
	require.NotNil(t, q.State.LastExit)
	assert.Equal(t, "SIGKILL", q.State.LastExit.Signal)
	assert.Equal(t, 137, q.State.LastExit.ExitCode)
	assert.Len(t, logLines(d.daemonLog(), "level=error", "plugin vol:latest exited while no daemon was running (killed by signal SIGKILL)", "plugin="+p.ID), 1)
	assert.Len(t, logLines(d.daemonLog(), "started plugin vol:latest", "plugin="+p.ID), 1)
	assert.Len(t, logLines(d.daemonLog(), "VolumeDriver.Create", "name=before-crash", "plugin="+p.ID), 1,
		"the dead run's unseen line is replayed from the log file, once")
	assert.Equal(t, []string{"before-crash"}, volumeNames(t, q.State.Socket))
}

// TestSecondDaemonRefused starts a second daemon on the socket of a running
// one: it must refuse to take over, and leave the first one serving. It is
// started the old way, `plugdbg daemon`, which hands over to plugdbgd:
// the daemon's message and exit status are the command's.
func TestSecondDaemonRefused(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, plugdbgBin, "daemon",
		"--data-root", d.dataRoot, "--exec-root", d.execRoot, "-H", d.host).CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "second daemon: %s", out)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, string(out), "plugdbg daemon: the daemon is plugdbgd now; running "+plugdbgdBin)
	assert.Contains(t, string(out), fmt.Sprintf("plugdbgd is already running (pid %d) on %s", d.proc.cmd.Process.Pid, d.dataRoot))

	require.NoError(t, ping(d.sock))
	q := d.inspect(t, "vol")
	assert.Equal(t, types.StatusRunning, q.State.Status)
	assert.Equal(t, p.State.Pid, q.State.Pid)
	assert.Equal(t, []string{}, volumeNames(t, q.State.Socket))
	eventually(t, func() bool { return len(d.sparePids()) == 1 }, waitTimeout, "the second daemon's spare monitor outlives it")
}
