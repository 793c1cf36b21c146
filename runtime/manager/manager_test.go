package manager

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/spec"
)

// fakeExecutor stands in for containers so the manager's own logic (locking,
// state, backoff, events) can be tested fast and under -race. Each "run" is
// an in-process HTTP server on the plugin's socket that answers
// Plugin.Activate. Real containers are tested in integration/.
type fakeExecutor struct {
	mu      sync.Mutex
	runs    map[string]*fakeRun
	starts  int
	failing bool // Start returns an error
	execs   []fakeExec
	// execGate, if set, holds each Exec until it is closed; execEntered
	// then gets a value as each Exec begins.
	execGate    chan struct{}
	execEntered chan struct{}
	// execProc, if set, makes each Exec start the process it returns
	// rather than fail as a command not found.
	execProc func() execproto.Process
	ops      []string // "exec done" and "stop", in order
}

// fakeExec is what one Exec call asked for.
type fakeExec struct {
	id   string
	c    types.ExecConfig
	base container.Base
}

type fakeRun struct {
	x     *fakeExecutor
	id    string
	msgs  chan monitor.Message
	srv   *http.Server
	once  sync.Once
	hello monitor.Hello
	stuck atomic.Bool // Stop does nothing, as with an init that cannot exit
}

func (x *fakeExecutor) Start(_ context.Context, id string, s *specs.Spec, _ LogConfig) (Run, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.starts++
	if x.failing {
		return nil, errors.New("start container: fake failure")
	}
	var sockDir string
	for _, m := range s.Mounts {
		if m.Destination == spec.SocketDirInPlugin {
			sockDir = m.Source
		}
	}
	ln, err := net.Listen("unix", filepath.Join(sockDir, "fake.sock"))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"Implements":["VolumeDriver"]}`)
	})
	r := &fakeRun{x: x, id: id, msgs: make(chan monitor.Message, 64), srv: &http.Server{Handler: mux},
		hello: monitor.Hello{Pid: 1000 + x.starts, StartedAt: time.Now()}}
	go func() { _ = r.srv.Serve(ln) }()
	r.msgs <- monitor.Message{Lines: []logs.Entry{{Seq: 1, Time: time.Now().UnixNano(), Stream: logs.Stdout, Line: "fake plugin up"}}}
	if x.runs == nil {
		x.runs = map[string]*fakeRun{}
	}
	x.runs[id] = r
	return r, nil
}

func (x *fakeExecutor) Attach(id string) (Run, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.runs[id]; ok {
		return r, nil
	}
	return nil, monitor.ErrNoMonitor
}

func (x *fakeExecutor) LastExit(string) (types.PluginExit, bool) {
	return types.PluginExit{}, false
}
func (x *fakeExecutor) Cleanup(string) error { return nil }

// Exec records the call; the fake has no processes to run.
func (x *fakeExecutor) Exec(id string, c types.ExecConfig, base container.Base) (execproto.Process, error) {
	x.mu.Lock()
	gate, entered := x.execGate, x.execEntered
	x.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.execs = append(x.execs, fakeExec{id, c, base})
	x.ops = append(x.ops, "exec done")
	if x.execProc != nil {
		return x.execProc(), nil
	}
	return nil, &execproto.StartError{ExitCode: 127, Msg: "fake: no processes"}
}

func (x *fakeExecutor) Top(string) (types.Top, error)     { return types.Top{}, nil }
func (x *fakeExecutor) Stats(string) (types.Stats, error) { return types.Stats{}, nil }

// crash makes plugin id's current run exit with code.
func (x *fakeExecutor) crash(id string, code int) {
	x.mu.Lock()
	r := x.runs[id]
	x.mu.Unlock()
	r.exit(code)
}

func (r *fakeRun) exit(code int) {
	r.once.Do(func() {
		_ = r.srv.Close()
		r.msgs <- monitor.Message{Exit: &types.PluginExit{ExitCode: code, ExitedAt: time.Now()}}
		close(r.msgs)
	})
}

func (r *fakeRun) Hello() monitor.Hello { return r.hello }
func (r *fakeRun) Next() (monitor.Message, error) {
	m, ok := <-r.msgs
	if !ok {
		return m, io.EOF
	}
	return m, nil
}
func (r *fakeRun) Ack(uint64) {}
func (r *fakeRun) Stop(time.Duration) {
	r.x.mu.Lock()
	r.x.ops = append(r.x.ops, "stop")
	r.x.mu.Unlock()
	if !r.stuck.Load() {
		r.exit(0)
	}
}
func (r *fakeRun) Close() error { return nil }

const fakeConfig = `{"description":"fake","entrypoint":["/plugin"],
 "interface":{"types":["docker.volumedriver/1.0"],"socket":"fake.sock"},
 "env":[{"name":"DEBUG","settable":["value"],"value":"0"}]}`

// buildContext is a plugin build context tar with a config and an
// executable /plugin.
func buildContext(t *testing.T, cfg string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, body)
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "config.json", Mode: 0o644, Typeflag: tar.TypeReg}, cfg)
	add(&tar.Header{Name: "rootfs/", Mode: 0o755, Typeflag: tar.TypeDir}, "")
	add(&tar.Header{Name: "rootfs/plugin", Mode: 0o755, Typeflag: tar.TypeReg}, "#!fake\n")
	require.NoError(t, tw.Close())
	return &buf
}

func newTestManager(t *testing.T) (*Manager, *fakeExecutor) {
	t.Helper()
	return newObservedManager(t, nil)
}

// newObservedManager is newTestManager with obs as the Observer.
func newObservedManager(t *testing.T, obs Observer) (*Manager, *fakeExecutor) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pdm")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	x := &fakeExecutor{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	m, err := New(Options{DataRoot: filepath.Join(dir, "d"), ExecRoot: filepath.Join(dir, "r"), Executor: x, Log: log, StopGrace: time.Second, Observer: obs})
	require.NoError(t, err)
	t.Cleanup(m.Shutdown)
	return m, x
}

func collect(ch <-chan events.Message, n int, timeout time.Duration) []events.Message {
	var out []events.Message
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case ev := <-ch:
			out = append(out, ev)
		case <-deadline:
			return out
		}
	}
	return out
}

func actions(evs []events.Message) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Action))
	}
	return out
}

func TestLifecycleEvents(t *testing.T) {
	m, _ := newTestManager(t)
	ch, cancel := m.Subscribe()
	defer cancel()
	ctx := context.Background()

	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Set("fake", []string{"DEBUG=1"}))
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err := m.Inspect(id[:12])
	require.NoError(t, err)
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)
	require.NoError(t, m.Disable(ctx, "fake:latest", false))
	require.NoError(t, m.Remove(ctx, id, false))

	evs := collect(ch, 5, 5*time.Second)
	assert.Equal(t, []string{"create", "set", "enable", "disable", "remove"}, actions(evs))
	for _, e := range evs {
		assert.Equal(t, id, e.Actor.ID)
		assert.Equal(t, "fake:latest", e.Actor.Attributes["name"])
	}
	_, err = m.Inspect(id)
	assert.True(t, errdefs.IsNotFound(err), "got %v", err)
}

func TestStateErrors(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	_, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)

	_, err = m.Create(ctx, "fake:latest", buildContext(t, fakeConfig))
	assert.True(t, errdefs.IsConflict(err))
	assert.EqualError(t, err, "plugin fake:latest already exists")

	err = m.Disable(ctx, "fake", false)
	assert.True(t, errdefs.IsConflict(err))
	assert.EqualError(t, err, "plugin is already disabled: plugin fake:latest found but disabled")

	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	err = m.Enable(ctx, "fake", 5*time.Second)
	assert.EqualError(t, err, "plugin already enabled: plugin fake:latest is enabled")
	err = m.Set("fake", []string{"DEBUG=1"})
	assert.EqualError(t, err, "cannot set on an active plugin, disable plugin before setting")
	err = m.Remove(ctx, "fake", false)
	assert.EqualError(t, err, "plugin fake:latest is enabled")

	err = m.Remove(ctx, "nope", false)
	assert.True(t, errdefs.IsNotFound(err))
	assert.EqualError(t, err, `plugin "nope" not found`)
	require.NoError(t, m.Remove(ctx, "fake", true))
}

func TestFailedSetChangesNothing(t *testing.T) {
	m, _ := newTestManager(t)
	_, err := m.Create(context.Background(), "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	before, err := m.Inspect("fake")
	require.NoError(t, err)
	err = m.Set("fake", []string{"DEBUG=1", "NOPE=2"})
	assert.EqualError(t, err, `setting "NOPE" not found in the plugin configuration`)
	after, err := m.Inspect("fake")
	require.NoError(t, err)
	assert.Equal(t, before.Settings, after.Settings)
}

func TestConcurrentEnableOneWins(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	_, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)

	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- m.Enable(ctx, "fake", 5*time.Second) }()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else {
			assert.True(t, errdefs.IsConflict(err), "got %v", err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 1, x.starts)
}

func TestEnableRacingRemove(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	for i := range 5 {
		name := fmt.Sprintf("fake%d", i)
		_, err := m.Create(ctx, name, buildContext(t, fakeConfig))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var enableErr, rmErr error
		wg.Add(2)
		go func() { defer wg.Done(); enableErr = m.Enable(ctx, name, 5*time.Second) }()
		go func() { defer wg.Done(); rmErr = m.Remove(ctx, name, true) }()
		wg.Wait()
		_, inspectErr := m.Inspect(name)
		if rmErr == nil {
			assert.True(t, errdefs.IsNotFound(inspectErr), "removed plugin still listed")
			if enableErr != nil {
				assert.True(t, errdefs.IsNotFound(enableErr), "got %v", enableErr)
			}
		}
	}
	assert.Empty(t, m.List())
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	m, x := newTestManager(t)
	ch, cancel := m.Subscribe()
	defer cancel()
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))

	var delays []string
	for len(delays) < 3 {
		x.crash(id, 3)
		var restarted bool
		for !restarted {
			select {
			case ev := <-ch:
				switch ev.Action {
				case types.ActionExit:
					assert.Equal(t, "3", ev.Actor.Attributes["exitCode"])
				case types.ActionRestarting:
					delays = append(delays, ev.Actor.Attributes["delay"])
				case types.ActionRestart:
					restarted = true
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no restart; delays so far %v", delays)
			}
		}
	}
	assert.Equal(t, []string{"100ms", "200ms", "400ms"}, delays)
	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.Equal(t, 3, p.State.RestartCount)
	require.NotNil(t, p.State.LastExit)
	assert.Equal(t, 3, p.State.LastExit.ExitCode)
	assert.Equal(t, types.StatusRunning, p.State.Status)

	// Disable during a pending restart cancels it.
	x.crash(id, 3)
	require.Eventually(t, func() bool {
		p, _ := m.Inspect(id)
		return p.State.Status == types.StatusRestarting
	}, 5*time.Second, time.Millisecond)
	startsBefore := x.starts
	require.NoError(t, m.Disable(ctx, id, false))
	time.Sleep(1200 * time.Millisecond) // longer than the pending 800ms delay
	x.mu.Lock()
	assert.Equal(t, startsBefore, x.starts, "a disabled plugin was restarted")
	x.mu.Unlock()
}

func TestFailedEnableLeavesPluginDisabled(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(m.store.Dir(id), "config.json"))
	require.NoError(t, err)
	x.failing = true
	err = m.Enable(ctx, "fake", 5*time.Second)
	assert.ErrorContains(t, err, "fake failure")
	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.False(t, p.Enabled)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
	after, err := os.ReadFile(filepath.Join(m.store.Dir(id), "config.json"))
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.NoDirExists(t, m.socketDir(id))
}

func TestRestoreReattaches(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	m.Shutdown()

	m2, err := New(m.opts)
	require.NoError(t, err)
	require.NoError(t, m2.Restore(ctx))
	defer m2.Shutdown()
	p, err := m2.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	assert.Equal(t, 1, x.starts, "reattach must not start the plugin again")
}

// TestDisableNotSaved: a disable whose state write fails still leaves
// inspect showing what runs (nothing), says the store disagrees, and fails.
func TestDisableNotSaved(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes the plugin's directory immutable: needs root")
	}
	m, _ := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))

	// An immutable directory refuses the state file's temp file, even to
	// root, as a full disk would.
	dir := filepath.Join(m.opts.DataRoot, "plugins", id)
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v %s", dir, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })

	err = m.Disable(ctx, "fake", false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the plugin is stopped, but its state could not be saved")
	p, err := m.Inspect("fake")
	require.NoError(t, err)
	assert.False(t, p.Enabled, "inspect shows what runs")
	assert.Equal(t, types.StatusDisabled, p.State.Status)
	assert.Zero(t, p.State.Pid)
	assert.Contains(t, p.State.Error, "not saved as disabled")

	// Once the store can be written again, enable and disable work.
	require.NoError(t, exec.Command("chattr", "-i", dir).Run())
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	require.NoError(t, m.Disable(ctx, "fake", false))
}

// TestDisableCleansUpBeforeItReturns: once a disable returns, what the
// run left on the host (its socket directory) is gone, so that an enable
// right after it keeps the directory it makes. The cleanup used to follow
// the end of the run that the disable waited for, and could remove the
// next run's directory (TestExecRacesStop saw that enable fail).
func TestDisableCleansUpBeforeItReturns(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
		require.DirExists(t, m.socketDir(id))
		// Files the plugin left there make the cleanup long enough that,
		// were it to follow the run's end, the disable would return first.
		for i := range 5000 {
			require.NoError(t, os.WriteFile(filepath.Join(m.socketDir(id), fmt.Sprint("left-", i)), nil, 0o600))
		}
		require.NoError(t, m.Disable(ctx, "fake", false))
		require.NoDirExists(t, m.socketDir(id), "the run's socket directory is gone when disable returns")
	}
}
