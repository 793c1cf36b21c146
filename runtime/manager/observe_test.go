package manager

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// observingExecutor is the fake executor with real recording points
// (package observe), which it puts on the fake plugins' sockets as a
// monitor would: at the start of an observed run, and on request.
type observingExecutor struct {
	*fakeExecutor
	mu     sync.Mutex
	points map[string]*fakePoint // by plugin ID, for the current run
	ops    []string              // "observe on", "observe off", in order
}

type fakePoint struct {
	socket string
	stats  *observe.Stats
	point  *observe.Point
}

func (x *observingExecutor) Start(ctx context.Context, id string, s *specs.Spec, lc LogConfig) (Run, error) {
	r, err := x.fakeExecutor.Start(ctx, id, s, lc)
	if err != nil {
		return nil, err
	}
	fp := &fakePoint{socket: lc.Socket, stats: observe.NewStats()}
	if lc.Observe { // the fake's socket exists once Start returns
		if fp.point, err = observe.Install(lc.Socket, fp.stats); err != nil {
			return nil, err
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.points == nil {
		x.points = map[string]*fakePoint{}
	}
	x.points[id] = fp
	return r, nil
}

func (x *observingExecutor) Observe(_ context.Context, id string, on bool) (monitor.ObserveStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	fp := x.points[id]
	if fp == nil {
		return monitor.ObserveStatus{}, monitor.ErrNoMonitor
	}
	x.ops = append(x.ops, map[bool]string{true: "observe on", false: "observe off"}[on])
	switch {
	case on && fp.point == nil:
		p, err := observe.Install(fp.socket, fp.stats)
		if err != nil {
			return monitor.ObserveStatus{On: true, Error: err.Error()}, nil
		}
		fp.point = p
	case !on && fp.point != nil:
		if err := fp.point.Remove(); err != nil {
			return monitor.ObserveStatus{}, err
		}
		fp.point = nil
	}
	return monitor.ObserveStatus{On: on, Recording: fp.point != nil}, nil
}

func (x *observingExecutor) Calls(_ context.Context, id string) (types.CallStats, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	fp := x.points[id]
	if fp == nil {
		return types.CallStats{}, monitor.ErrNoMonitor
	}
	c := fp.stats.Snapshot()
	c.Recording = fp.point != nil
	return c, nil
}

func (x *observingExecutor) opsSoFar() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.ops...)
}

func newObservingManager(t *testing.T, observeAll bool) (*Manager, *observingExecutor) {
	t.Helper()
	m, fx := newTestManager(t)
	x := &observingExecutor{fakeExecutor: fx}
	m.opts.Executor = x
	m.opts.ObserveAll = observeAll
	t.Cleanup(func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, fp := range x.points {
			if fp.point != nil {
				_ = fp.point.Remove()
			}
		}
	})
	return m, x
}

func socketIno(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

func callFake(t *testing.T, sock, method string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://plugin/"+method, "application/json", nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func methodCount(c types.CallStats, method string) uint64 {
	for _, m := range c.Methods {
		if m.Method == method {
			return m.Count
		}
	}
	return 0
}

// TestObserveFromEnable: a plugin set to be observed before its enable is
// ready only once the recording point is in place, so its Plugin.Activate
// counts; inspect and CallStats show it.
func TestObserveFromEnable(t *testing.T) {
	m, x := newObservingManager(t, false)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.SetObserve(ctx, "fake", true))
	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.State.Observed, "kept while disabled")
	assert.False(t, p.State.Recording)

	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err = m.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.State.Observed)
	assert.True(t, p.State.Recording)
	assert.Empty(t, p.State.ObserveError)

	c, err := m.Calls(ctx, "fake")
	require.NoError(t, err)
	assert.Equal(t, id, c.Plugin)
	assert.Equal(t, "fake:latest", c.Name)
	assert.Equal(t, uint64(1), methodCount(c, "Plugin.Activate"), "the enable's Activate is counted")
	all, err := m.CallStats(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, c.Methods, all[0].Methods)
	assert.Equal(t, []string{"observe on"}, x.opsSoFar(), "the enable waits for the point")
}

// TestObserveRunningPlugin: observing a running plugin takes effect at
// once and is kept; turning it off puts the plugin's socket back and
// leaves the plugin out of CallStats; on again, the run's counters go on.
func TestObserveRunningPlugin(t *testing.T) {
	m, x := newObservingManager(t, false)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.False(t, p.State.Observed)
	all, err := m.CallStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, all, "an unobserved plugin has no counters to show")
	sock := p.State.Socket
	orig := socketIno(t, sock)

	require.NoError(t, m.SetObserve(ctx, "fake", true))
	assert.NotEqual(t, orig, socketIno(t, sock), "the point has the socket's path")
	callFake(t, sock, "Plugin.Activate")
	callFake(t, sock, "Plugin.Activate")
	o, err := m.store.Opts(id)
	require.NoError(t, err)
	assert.True(t, o.Observe, "kept with the plugin")

	require.NoError(t, m.SetObserve(ctx, "fake", false))
	assert.Equal(t, orig, socketIno(t, sock), "the plugin's socket is back")
	callFake(t, sock, "Plugin.Activate") // not counted
	p, err = m.Inspect(id)
	require.NoError(t, err)
	assert.False(t, p.State.Observed)
	assert.False(t, p.State.Recording)
	all, err = m.CallStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)

	require.NoError(t, m.SetObserve(ctx, "fake", true))
	callFake(t, sock, "Plugin.Activate")
	c, err := m.Calls(ctx, "fake")
	require.NoError(t, err)
	assert.Equal(t, uint64(3), methodCount(c, "Plugin.Activate"), "the run's counters go on")
	assert.Equal(t, []string{"observe on", "observe off", "observe on"}, x.opsSoFar())
}

// TestObserveReattach: a daemon that reattaches to a running plugin puts
// its recording point in line with what it wants, --observe-all included.
func TestObserveReattach(t *testing.T) {
	m, x := newObservingManager(t, false)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	m.Shutdown()

	opts := m.opts
	opts.ObserveAll = true
	m2, err := New(opts)
	require.NoError(t, err)
	require.NoError(t, m2.Restore(ctx))
	defer m2.Shutdown()
	p, err := m2.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.State.Observed)
	assert.True(t, p.State.Recording)
	assert.Equal(t, []string{"observe on"}, x.opsSoFar())
	assert.Equal(t, 1, x.starts, "no restart")
}

// TestObserveUnderPlainExecutor: an executor that cannot observe runs an
// observed plugin unobserved, and says so.
func TestObserveUnderPlainExecutor(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.SetObserve(ctx, "fake", true))
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err := m.Inspect(id)
	require.NoError(t, err)
	assert.True(t, p.State.Observed)
	assert.False(t, p.State.Recording)
	assert.Contains(t, p.State.ObserveError, "cannot observe")
	_, err = m.Calls(ctx, "fake")
	assert.ErrorContains(t, err, "cannot observe")
}
