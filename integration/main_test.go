package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
)

// What TestMain builds, once for the whole package.
var (
	plugdbgBin  string // the client, plugdbg (with -race when the tests have it)
	plugdbgdBin string // the daemon, plugdbgd, beside it (with -race when the tests have it)
	pluginsDir  string // <pluginsDir>/<name>/{config.json,rootfs/<entrypoint>}
)

// Bounds on waits. They are generous: a wait ends as soon as its condition
// holds, and only a broken daemon makes a test wait this long.
const (
	readyTimeout = 30 * time.Second // daemon answering /_ping, including its Restore
	stopTimeout  = 20 * time.Second // daemon exiting after SIGTERM
	waitTimeout  = 15 * time.Second // any other condition
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("integration: skipping all tests: they run plugins as containers and need root")
		os.Exit(0)
	}
	if testing.Short() {
		fmt.Println("integration: skipping all tests in -short mode")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pdi-build")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build:", err)
		return 1
	}
	race := ""
	if raceEnabled {
		race = " (plugdbg, plugdbgd and plugdbgd-monitor with -race)"
	}
	fmt.Printf("integration: built plugdbg, plugdbgd, plugdbgd-monitor and the test plugins%s in %s\n", race, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// build builds plugdbg, plugdbgd, plugdbgd-monitor and every
// testplugins/<name> with a config.json into dir, as `make build plugins`
// would, without depending on make having run. The binaries sit side by
// side, as make install puts them, so that `plugdbg daemon` finds plugdbgd
// and plugdbgd its monitor.
func build(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("repository root: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	plugdbgBin = filepath.Join(dir, "plugdbg")
	plugdbgdBin = filepath.Join(dir, "plugdbgd")
	pluginsDir = filepath.Join(dir, "plugins")

	type kind int
	const (
		daemon kind = iota // cgo (libcontainer), linked statically as the Makefile does
		client             // pure Go, as the Makefile builds it
		plugin             // a static test plugin for a rootfs
	)
	type job struct {
		out, pkg string
		kind     kind
	}
	jobs := []job{{plugdbgdBin, "./cmd/plugdbgd", daemon}, {filepath.Join(dir, "plugdbgd-monitor"), "./cmd/plugdbgd-monitor", daemon}, {plugdbgBin, "./cmd/plugdbg", client}}
	configs, err := filepath.Glob(filepath.Join(root, "testplugins", "*", "config.json"))
	if err != nil {
		return err
	}
	if len(configs) == 0 {
		return errors.New("no testplugins/*/config.json found")
	}
	for _, cfgPath := range configs {
		name := filepath.Base(filepath.Dir(cfgPath))
		data, err := os.ReadFile(cfgPath)
		if err != nil {
			return err
		}
		var cfg struct{ Entrypoint []string }
		if err := json.Unmarshal(data, &cfg); err != nil || len(cfg.Entrypoint) == 0 {
			return fmt.Errorf("%s: no entrypoint (%v)", cfgPath, err)
		}
		out := filepath.Join(pluginsDir, name)
		if err := os.MkdirAll(filepath.Join(out, "rootfs"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "config.json"), data, 0o644); err != nil {
			return err
		}
		bin := filepath.Join(out, "rootfs", path.Base(cfg.Entrypoint[0]))
		jobs = append(jobs, job{bin, "./testplugins/" + name, plugin})
	}

	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			args := []string{"build", "-o", j.out}
			cgo := "0"
			switch {
			case j.kind == plugin:
				args = append(args, "-trimpath", "-ldflags", "-s -w")
			case raceEnabled: // the race detector needs cgo, in the client too
				args, cgo = append(args, "-race"), "1"
			case j.kind == daemon:
				// As the Makefile links the daemon it ships: statically.
				args, cgo = append(args, "-tags", "netgo,osusergo", "-ldflags", "-extldflags=-static"), "1"
			default:
				args = append(args, "-trimpath")
			}
			cmd := exec.Command(goBin, append(args, j.pkg)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pluginDir is the directory of a built test plugin, ready for create.
func pluginDir(name string) string { return filepath.Join(pluginsDir, name) }

// daemon is one plugdbgd process, and its successors on the same
// roots after a kill9, stop or restart.
type daemon struct {
	t        *testing.T // the test that owns the daemon; subtests pass their own t to helpers
	dir      string     // everything of this daemon lives here
	dataRoot string
	execRoot string
	sock     string
	host     string // unix://<sock>
	client   *client.Client
	bin      string // the plugdbgd binary to run; "" is plugdbgdBin

	proc *daemonProc   // the current (or last) daemon process
	logs []*daemonProc // every process started, in order
}

type daemonProc struct {
	cmd  *exec.Cmd
	log  string        // the process's stdout and stderr
	done chan struct{} // closed when it has exited; err is then set
	err  error
}

// startDaemon runs a daemon as a real process on fresh roots in a short
// directory (a plugin's socket path, <exec-root>/plugins/<64-hex id>/<name>,
// must stay under 108 bytes) and waits until it answers /_ping. Cleanup
// force-removes every plugin through the API, stops the daemon, kills any
// monitor or container the daemon left, unmounts what is left mounted and
// removes the directory.
func startDaemon(t *testing.T) *daemon {
	t.Helper()
	return startDaemonWith(t)
}

// start runs a new daemon process on d's roots and waits until it answers.
func (d *daemon) start() {
	d.t.Helper()
	d.startWith()
}

// running reports whether the current daemon process has not exited.
func (d *daemon) running() bool {
	if d.proc == nil {
		return false
	}
	select {
	case <-d.proc.done:
		return false
	default:
		return true
	}
}

// kill9 kills the daemon with SIGKILL and waits until it is gone.
func (d *daemon) kill9() {
	t := d.t
	t.Helper()
	require.True(t, d.running(), "no daemon running")
	require.NoError(t, d.proc.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-d.proc.done:
	case <-time.After(stopTimeout):
		require.FailNow(t, "daemon still runs after SIGKILL")
	}
	var ee *exec.ExitError
	require.ErrorAs(t, d.proc.err, &ee)
	ws := ee.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "daemon ended with %v, want SIGKILL", d.proc.err)
}

// stop sends SIGTERM and requires a clean exit (status 0) in time.
func (d *daemon) stop() {
	t := d.t
	t.Helper()
	require.True(t, d.running(), "no daemon running")
	start := time.Now()
	require.NoError(t, d.proc.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.proc.done:
	case <-time.After(stopTimeout):
		require.FailNowf(t, "daemon did not exit after SIGTERM", "within %s; log:\n%s", stopTimeout, d.daemonLog())
	}
	require.NoError(t, d.proc.err, "daemon exit status after SIGTERM; log:\n%s", d.daemonLog())
	t.Logf("daemon stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// restart starts a new daemon on the same roots, after stopping the current
// one with SIGTERM if it still runs.
func (d *daemon) restart() {
	d.t.Helper()
	if d.running() {
		d.stop()
	}
	d.start()
}

// daemonLog returns what the current (last started) daemon process wrote.
func (d *daemon) daemonLog() string {
	if d.proc == nil {
		return ""
	}
	b, _ := os.ReadFile(d.proc.log)
	return string(b)
}

// cli runs the built plugdbg binary against the daemon.
func (d *daemon) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return cli(t, d.host, args...)
}

// cli runs the built plugdbg binary with PLUGDBG_HOST=host and returns its
// output and exit status.
func cli(t *testing.T, host string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, args...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+host)
	return runCommand(t, cmd)
}

// runCommand runs cmd and returns its output and exit status; failing to
// run it at all fails the test.
func runCommand(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		require.NoError(t, err, "run %q", cmd.Args)
	}
	return o.String(), e.String(), code
}

// cleanup force-removes every plugin, stops the daemon and leaves nothing
// behind: no process, no mount, no directory.
func (d *daemon) cleanup() {
	t := d.t
	// A daemon that still runs at the end must be able to remove every
	// plugin and then exit leaving nothing running: whatever it leaves is
	// a defect. One that a test killed leaves its plugins running by
	// design; those are only cleared away.
	daemonRan := d.running()
	if daemonRan {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		plugins, err := d.client.List(ctx, client.ListOptions{})
		if err != nil {
			t.Errorf("cleanup: list plugins: %v", err)
		}
		for _, p := range plugins {
			if err := d.client.Remove(ctx, p.ID, true); err != nil {
				t.Errorf("cleanup: rm -f %s: %v", p.Name, err)
			}
		}
		cancel()
		_ = d.proc.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.proc.done:
		case <-time.After(stopTimeout):
			t.Errorf("cleanup: daemon ignored SIGTERM for %s; killing it", stopTimeout)
			_ = d.proc.cmd.Process.Kill()
			<-d.proc.done
		}
	}
	if raceEnabled {
		reports, _ := filepath.Glob(filepath.Join(d.dir, "race", "report.*"))
		for _, r := range reports {
			b, _ := os.ReadFile(r)
			t.Errorf("data race reported by a plugdbg process (%s):\n%s", filepath.Base(r), b)
		}
	}
	if t.Failed() {
		for i, p := range d.logs {
			b, _ := os.ReadFile(p.log)
			t.Logf("daemon log %d (%s):\n%s", i+1, p.log, tail(string(b), 64<<10))
		}
	}
	if left := killLeftovers(t, d.dir, d.execRoot, daemonRan); daemonRan && len(left) > 0 {
		t.Errorf("cleanup: after rm -f of every plugin and SIGTERM the daemon left running: %s", strings.Join(left, "; "))
	}
	unmountUnder(t, d.dir)
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// unixHTTP returns an HTTP client that dials the unix socket sock.
func unixHTTP(sock string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
}

// ping checks that a daemon answers GET /_ping with 200 "OK".
func ping(sock string) error {
	hc := unixHTTP(sock, time.Second)
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://plugdbg/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "OK" {
		return fmt.Errorf("/_ping: %d %q", resp.StatusCode, body)
	}
	return nil
}
