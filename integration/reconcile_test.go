package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDaemonKilledBeforeMonitorReported kills the daemon after it handed a
// start to a monitor and before the monitor could report it, so that the
// monitor starts the container for a daemon that is gone. The monitor must
// outlive the broken pipe to its daemon, and the next daemon must bring
// what runs in line with what it records: a plugin that was being enabled
// is disabled and nothing of its run is left; one that was being restarted
// runs once, under one monitor.
func TestDaemonKilledBeforeMonitorReported(t *testing.T) {
	tests := []struct {
		name string
		// enabled: the plugin is enabled and the handed-over start is the
		// restart of a crash; otherwise it is the start of an enable.
		enabled bool
		// early wakes the monitor only once the next daemon runs, rather
		// than letting it start the container while no daemon runs.
		early bool
	}{
		{name: "enable, monitor started alone"},
		{name: "enable, monitor wakes under the next daemon", early: true},
		{name: "restart, monitor started alone", enabled: true},
		{name: "restart, monitor wakes under the next daemon", enabled: true, early: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			id := d.create(t, "vol", "volume").ID
			var crashed int
			if tt.enabled {
				crashed = d.enable(t, "vol").State.Pid
			}
			var spare int
			eventually(t, func() bool {
				pids := d.sparePids()
				if len(pids) == 1 {
					spare = pids[0]
				}
				return len(pids) == 1
			}, waitTimeout, "one spare monitor")
			// Stopped, the spare cannot take the job the daemon hands it
			// until the daemon is dead.
			require.NoError(t, syscall.Kill(spare, syscall.SIGSTOP))
			t.Cleanup(func() { _ = syscall.Kill(spare, syscall.SIGCONT) })
			// Stopped, not just signalled: a spare that has yet to run
			// would first read a job already in its pipe.
			eventually(t, func() bool { st, _, _ := procStat(spare); return st == 'T' }, waitTimeout, "spare stopped")

			enabled := make(chan error, 1)
			if tt.enabled {
				require.NoError(t, syscall.Kill(crashed, syscall.SIGKILL))
			} else {
				go func() { enabled <- d.client.Enable(context.Background(), "vol", 30*time.Second) }()
			}
			eventually(t, func() bool { return pipeQueued(t, spare, 0) > 0 }, waitTimeout, "daemon handed the start to the spare")
			d.kill9()
			if !tt.enabled {
				assert.Error(t, <-enabled, "enable must fail when the daemon dies")
			}

			if tt.early {
				d.start()
				require.NoError(t, syscall.Kill(spare, syscall.SIGCONT))
			} else {
				require.NoError(t, syscall.Kill(spare, syscall.SIGCONT))
				var pid int
				eventually(t, func() bool {
					p, ok := d.containerInit(id)
					pid = p
					return ok
				}, waitTimeout, "the monitor started the container with no daemon to report to")
				d.start()
				if !tt.enabled {
					eventually(t, func() bool { return !alive(pid) }, waitTimeout, "container of the unfinished enable still runs")
				}
			}
			if tt.enabled && !tt.early {
				// The monitor that started the plugin alone runs it on,
				// for the next daemon.
				eventually(t, func() bool { return slices.Equal(d.monitorPids(id), []int{spare}) }, waitTimeout,
					"the plugin's monitor is the one that started it alone")
			} else {
				// Woken after the next daemon stopped the plugin or started
				// it anew, the monitor must give up.
				eventually(t, func() bool { return !alive(spare) }, waitTimeout, "the woken monitor does not exit")
			}

			p := d.inspect(t, "vol")
			assert.Equal(t, tt.enabled, p.Enabled)
			monitorLog, _ := os.ReadFile(filepath.Join(d.monitorDir(id), "monitor.log"))
			switch {
			case !tt.enabled && !tt.early:
				assert.Len(t, logLines(d.daemonLog(), "level=warning", "stopping plugin vol:latest: it runs but is not enabled", "plugin="+id), 1)
			case tt.enabled && !tt.early:
				// The monitor outlived the broken pipe, and the next
				// daemon took its run over.
				assert.Contains(t, string(monitorLog), "running on for the next daemon")
				assert.Equal(t, []int{spare}, d.monitorPids(id))
				assert.Len(t, logLines(d.daemonLog(), "reattached to plugin vol:latest", "plugin="+id), 1)
			case tt.enabled && tt.early:
				// The next daemon started the plugin anew in the same
				// directory before the monitor woke: it must leave that
				// run alone.
				assert.Contains(t, string(monitorLog), "stale start")
			}
			for _, problem := range d.reconciled(t, nil) {
				t.Error(problem)
			}
			if !tt.enabled {
				// The plugin can be enabled again.
				p = d.enable(t, "vol")
				assert.Equal(t, []string{}, volumeNames(t, p.State.Socket))
				assert.Len(t, d.monitorPids(id), 1)
			}
		})
	}
}
