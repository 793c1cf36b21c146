package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// TestExecClientGone kills -9 the CLI of an exec whose shell has a child
// running: the whole session must end with it, the child included, also
// with a TTY and a child that ignores SIGHUP (SIGKILL after the grace).
func TestExecClientGone(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")

	tests := []struct {
		name  string
		args  []string
		sleep string // the child as top shows it
	}{
		{name: "pipes", args: []string{"vol", "sh", "-c", "echo ready; sleep 301; echo"}, sleep: "sleep 301"},
		{name: "tty, HUP ignored", args: []string{"-t", "vol", "sh", "-c", `trap "" HUP; echo ready; sleep 302; echo`}, sleep: "sleep 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := startReadyExec(t, d, tt.args...)
			top := waitTop(t, d, "vol", func(top string) bool { return strings.Contains(top, tt.sleep) })
			require.Contains(t, top, tt.sleep, "the exec's child is running")

			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
			top = waitTop(t, d, "vol", func(top string) bool {
				return !strings.Contains(top, tt.sleep) && !strings.Contains(top, "sh -c")
			})
			assert.NotContains(t, top, tt.sleep, "the exec's child outlived its client")
			assert.NotContains(t, top, "sh -c", "the exec's shell outlived its client")
			assert.Contains(t, top, "/pdvol", "the plugin itself runs on")
			assert.Equal(t, p.State.Pid, d.inspect(t, "vol").State.Pid, "the plugin was not restarted")
		})
	}
}

// startReadyExec starts `plugdbg exec ARGS…`, whose command prints
// "ready" first, and returns once it has.
func startReadyExec(t *testing.T, d *daemon, args ...string) *exec.Cmd {
	t.Helper()
	cmd := d.execCmd(testCtx(t), append([]string{"exec"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "no output from the exec")
	require.Equal(t, "ready", strings.TrimSpace(lines.Text()))
	return cmd
}

// waitTop polls `plugdbg top ref` until done holds for its output, or
// waitTimeout passes, and returns the last output.
func waitTop(t *testing.T, d *daemon, ref string, done func(top string) bool) string {
	t.Helper()
	var top string
	poll(func() bool { top = d.ok(t, "top", ref); return done(top) }, waitTimeout)
	return top
}

// TestExecRacesStop loops enables and disables of a plugin from a few
// clients while others loop execs into it. Execs and stops must be
// ordered: every exec runs or is refused cleanly (never with libcontainer's
// words), every disable stops the plugin, and the daemon is left with no
// unreaped child: a zombie exec helper in the plugin's PID namespace would
// keep its init from ever exiting.
func TestExecRacesStop(t *testing.T) {
	const (
		togglers = 3
		toggles  = 10 // enable+disable rounds per toggler, at least
		// Toggling goes on past toggles until this many execs ran: on a
		// busy machine the execers can lose every race for the running
		// window in ten rounds, and a run where no exec overlapped a
		// stop proves nothing.
		ranMin = 5
	)
	d := startDaemon(t)
	p := d.create(t, "vol", "volume")
	d.enable(t, "vol")

	var disables atomic.Int32
	var problems tally
	toggled := make(chan struct{})
	execs := startExecLoops(t, d, toggled)
	var wg sync.WaitGroup
	for range togglers {
		wg.Go(func() {
			deadline := time.Now().Add(waitTimeout)
			for i := 0; i < toggles || (execs.count("ran") < ranMin && time.Now().Before(deadline)); i++ {
				err := d.client.Enable(testCtx(t), "vol", 30*time.Second)
				if err != nil && !isConflict(err, "plugin already enabled") {
					problems.add("enable: %v", err)
				}
				err = d.client.Disable(testCtx(t), "vol", false)
				switch {
				case err == nil:
					disables.Add(1)
				case isConflict(err, "plugin is already disabled"):
				default:
					problems.add("disable: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(toggled)
	counts := execs.wait()
	t.Logf("exec outcomes: %v", counts)
	assert.Empty(t, problems.list())
	assert.NotZero(t, disables.Load(), "no disable took effect")
	assert.GreaterOrEqual(t, counts["ran"], ranMin, "execs that ran")
	assertChildrenReaped(t, d)

	// The plugin is in a consistent state, and works on.
	q := d.inspect(t, "vol")
	if q.Enabled {
		assert.Equal(t, types.StatusRunning, q.State.Status)
		assert.True(t, alive(q.State.Pid))
		assert.Equal(t, 1, containerCount(t, d))
	} else {
		assert.Equal(t, types.StatusDisabled, q.State.Status)
		assert.Equal(t, 0, containerCount(t, d))
		d.enable(t, "vol")
	}
	assert.Equal(t, "ok\n", d.ok(t, "exec", "vol", "echo", "ok"))
	require.NoError(t, d.client.Disable(testCtx(t), "vol", false))
	assert.Equal(t, 0, containerCount(t, d), "containers after the last disable")
	assertMonitorGone(t, d, p.ID)
}

// TestExecRacesCrash kills the plugin's init while execs loop into it:
// execs that were joining the dying container are refused cleanly, and
// what libcontainer forked for them is reaped, so that the init can finish
// its exit and the plugin is restarted.
func TestExecRacesCrash(t *testing.T) {
	const crashes = 5
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	d.enable(t, "vol")

	crashed := make(chan struct{})
	execs := startExecLoops(t, d, crashed)
	for i := range crashes {
		// Crash it while execs are flowing into it.
		before := execs.count("ran")
		eventually(t, func() bool { return execs.count("ran") > before }, waitTimeout, "no exec ran before crash %d", i)
		q := d.inspect(t, "vol")
		require.Equal(t, types.StatusRunning, q.State.Status)
		require.NoError(t, syscall.Kill(q.State.Pid, syscall.SIGKILL), "crash %d", i)
		eventually(t, func() bool {
			now := d.inspect(t, "vol")
			return now.State.Status == types.StatusRunning && now.State.Pid != q.State.Pid
		}, waitTimeout, "the plugin was not restarted after crash %d", i)
	}
	close(crashed)
	t.Logf("exec outcomes: %v", execs.wait())
	assertChildrenReaped(t, d)
	assert.Equal(t, "ok\n", d.ok(t, "exec", "vol", "echo", "ok"))
}

// tally collects what concurrent loops saw.
type tally struct {
	mu       sync.Mutex
	counts   map[string]int
	problems []string
}

func (y *tally) add(format string, args ...any) {
	y.mu.Lock()
	defer y.mu.Unlock()
	y.problems = append(y.problems, fmt.Sprintf(format, args...))
}

func (y *tally) list() []string {
	y.mu.Lock()
	defer y.mu.Unlock()
	return append([]string(nil), y.problems...)
}

func (y *tally) inc(what string) {
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.counts == nil {
		y.counts = map[string]int{}
	}
	y.counts[what]++
}

func (y *tally) count(what string) int {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.counts[what]
}

// execLoops are goroutines running `sh -c true` in plugin vol.
type execLoops struct {
	t  *testing.T
	wg sync.WaitGroup
	y  tally
}

// startExecLoops starts execers goroutines that each run execTrue up to
// execsMax times, until stop is closed. Each exec is asked for once vol is
// seen running, so that execs meet the plugin's stops rather than pile up
// refusals while it is disabled.
func startExecLoops(t *testing.T, d *daemon, stop <-chan struct{}) *execLoops {
	const (
		execers  = 8
		execsMax = 100 // per execer
	)
	l := &execLoops{t: t}
	for range execers {
		l.wg.Go(func() {
			for range execsMax {
				if !waitRunning(t, d, stop) {
					return
				}
				outcome, err := execTrue(t, d)
				if err != nil {
					l.y.add("exec: %v", err)
					continue
				}
				l.y.inc(outcome)
			}
		})
	}
	return l
}

func (l *execLoops) count(what string) int { return l.y.count(what) }

// wait waits for the loops to end, checks that every exec went as
// execTrue allows, and returns how many ended each way.
func (l *execLoops) wait() map[string]int {
	l.wg.Wait()
	assert.Empty(l.t, l.y.list(), "execs that went wrong")
	l.y.mu.Lock()
	defer l.y.mu.Unlock()
	return l.y.counts
}

// waitRunning polls until plugin vol runs, and reports whether it does;
// false once stop is closed.
func waitRunning(t *testing.T, d *daemon, stop <-chan struct{}) bool {
	running := false
	poll(func() bool {
		select {
		case <-stop:
			return true
		default:
		}
		q, err := d.client.Inspect(testCtx(t), "vol")
		running = err == nil && q.State.Status == types.StatusRunning
		return running
	}, time.Hour) // ended by stop
	return running
}

// assertChildrenReaped checks that the daemon has no zombie child and no
// child left by libcontainer's exec setup. Monitors of stopped plugins are
// reaped as they exit: that is waited for.
func assertChildrenReaped(t *testing.T, d *daemon) {
	t.Helper()
	pid := d.proc.cmd.Process.Pid
	var left []string
	poll(func() bool { left = unreapedChildren(pid); return len(left) == 0 }, waitTimeout)
	assert.Empty(t, left, "children of the daemon left unreaped")
}

// isConflict reports whether err is the daemon's 409 with a message holding sub.
func isConflict(err error, sub string) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == 409 && strings.Contains(ce.Message, sub)
}

// execTrue runs `sh -c true` in plugin vol through the API and says how it
// went: "ran", "killed" (by a stop, after it started) or "refused" (409,
// with a message about the plugin's state). Anything else is an error.
func execTrue(t *testing.T, d *daemon) (string, error) {
	sess, err := d.client.Exec(testCtx(t), "vol", types.ExecConfig{Cmd: []string{"sh", "-c", "true"}})
	if err != nil {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 409 {
			return "", err
		}
		for _, want := range []string{": plugin is stopping", ": it is disabled", ": it is not running", ": container is not running"} {
			if strings.Contains(ce.Message, want) {
				return "refused" + want, nil
			}
		}
		return "", fmt.Errorf("refused with an unexpected message: %w", err)
	}
	st, err := sess.Stream(nil, io.Discard, io.Discard)
	switch {
	case err != nil:
		return "", err
	case st.ExitCode == 0 && st.Error == "":
		return "ran", nil
	case st.Signal == "SIGKILL" && st.Error == "":
		return "killed", nil
	}
	return "", fmt.Errorf("exit status %+v", st)
}

// unreapedChildren lists the children of pid that are zombies or still
// carry the name of one of libcontainer's exec helpers.
func unreapedChildren(pid int) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(s[j+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		comm := s[i+1 : j]
		if f[0] == "Z" || strings.HasPrefix(comm, "runc:[") {
			out = append(out, fmt.Sprintf("%s %s (%s)", filepath.Base(dir), f[0], comm))
		}
	}
	return out
}

// TestExecUnderTheMonitor: the plugin's monitor starts an exec's process,
// as its own child, so that the monitor's sealed binary, not the daemon's,
// sets the process up. A daemon killed during the session ends it in the
// monitor too: the exec's process and its child are killed, and the
// plugin runs on.
func TestExecUnderTheMonitor(t *testing.T) {
	d := startDaemon(t)
	id := d.create(t, "vol", "volume").ID
	p := d.enable(t, "vol")

	cmd := startReadyExec(t, d, "vol", "sh", "-c", "echo ready; sleep 303; echo done")

	var shell, sleep int
	eventually(t, func() bool {
		for _, pr := range processes() {
			switch {
			case strings.HasSuffix(pr.args[0], "/sh") && pr.args[len(pr.args)-1] == "echo ready; sleep 303; echo done":
				shell = pr.pid
			case len(pr.args) == 2 && pr.args[1] == "303" && path.Base(pr.args[0]) == "sleep":
				sleep = pr.pid
			}
		}
		return shell > 0 && sleep > 0
	}, waitTimeout, "the exec's shell and its sleep run")
	monitors := d.monitorPids(id)
	require.Len(t, monitors, 1)
	info, err := setns.ReadProcInfo(shell)
	require.NoError(t, err)
	assert.Equal(t, monitors[0], info.Ppid, "the exec's process is the monitor's child")

	d.kill9()
	eventually(t, func() bool { return !alive(shell) && !alive(sleep) }, waitTimeout,
		"the exec's processes outlived the daemon that served them")
	assert.Error(t, cmd.Wait(), "the exec's client saw its session end without an exit status")
	assert.True(t, alive(p.State.Pid), "the plugin runs on")

	d.start()
	after := d.inspect(t, "vol")
	assert.Equal(t, types.StatusRunning, after.State.Status)
	assert.Equal(t, p.State.Pid, after.State.Pid, "the restarted daemon reattached to the same run")
	assert.Equal(t, "hi\n", d.ok(t, "exec", "vol", "echo", "hi"), "exec works after the restart")
}
