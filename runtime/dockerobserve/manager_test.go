package dockerobserve

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// fakeDockerd answers the Engine API paths a Manager reads of dockerd:
// the plugins, one plugin, and the plugin events.
type fakeDockerd struct {
	host *dockerd.Host

	mu      sync.Mutex
	plugins map[string]plugin.Plugin // by ID
	subs    map[chan events.Message]bool
}

func newFakeDockerd(t *testing.T, root string) *fakeDockerd {
	t.Helper()
	sock := filepath.Join(shortDir(t), "dk.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	f := &fakeDockerd{plugins: map[string]plugin.Plugin{}, subs: map[chan events.Message]bool{}}
	srv := &http.Server{Handler: f}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := dockerd.NewClient("unix://" + sock)
	require.NoError(t, err)
	f.host = &dockerd.Host{API: c, PluginRoot: root}
	return f
}

func (f *fakeDockerd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	switch {
	case r.URL.Path == "/plugins":
		out := []plugin.Plugin{}
		for _, p := range f.plugins {
			out = append(out, p)
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	case strings.HasPrefix(r.URL.Path, "/plugins/") && strings.HasSuffix(r.URL.Path, "/json"):
		ref := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/plugins/"), "/json")
		for _, p := range f.plugins {
			if p.ID == ref || p.Name == ref || p.Name == ref+":latest" {
				f.mu.Unlock()
				_ = json.NewEncoder(w).Encode(p)
				return
			}
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, `{"message":"plugin %q not found"}`, ref)
	case r.URL.Path == "/events":
		ch := make(chan events.Message, 16)
		f.subs[ch] = true
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
		}()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case m := <-ch:
				_ = enc.Encode(m)
				w.(http.Flusher).Flush()
			}
		}
	default:
		f.mu.Unlock()
		http.NotFound(w, r)
	}
}

// set makes p one of dockerd's plugins, as it is now, and tells the
// subscribers with action.
func (f *fakeDockerd) set(p plugin.Plugin, action events.Action) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plugins[p.ID] = p
	f.emit(p, action)
}

// remove removes plugin p, and tells the subscribers.
func (f *fakeDockerd) remove(p plugin.Plugin) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.plugins, p.ID)
	f.emit(p, events.ActionRemove)
}

// emit sends an event to every subscriber. Caller holds f.mu.
func (f *fakeDockerd) emit(p plugin.Plugin, action events.Action) {
	for ch := range f.subs {
		ch <- events.Message{Type: events.PluginEventType, Action: action, Actor: events.Actor{ID: p.ID, Attributes: map[string]string{"name": p.Name}}}
	}
}

// subscribers is how many event streams are open.
func (f *fakeDockerd) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// env is a docker plugin served on its socket under a fake dockerd's
// plugin root, and what a Manager of it needs.
type env struct {
	dk     *fakeDockerd
	p      plugin.Plugin
	sock   string
	helper files // the plugin's helper's files
	opts   Options
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root, id, _, sock := pluginLayout(t)
	servePlugin(t, sock, "1")
	dk := newFakeDockerd(t, root)
	p := plugin.Plugin{ID: id, Name: "p:latest", Enabled: true, Config: plugin.Config{Interface: plugin.Interface{Socket: "p.sock"}}}
	dk.set(p, events.ActionCreate)
	self, err := os.Executable()
	require.NoError(t, err)
	state := shortDir(t)
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	e := &env{dk: dk, p: p, sock: sock, opts: Options{
		Dir: filepath.Join(state, "h"), StateFile: filepath.Join(state, "observed.json"),
		Binary: self, Docker: dk.host, Log: log,
	}}
	e.helper = files{e.opts.Dir, id}
	t.Cleanup(func() {
		// A helper a failed test left running puts the socket back.
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		defer cancel()
		_ = e.helper.end(ctx)
		for _, pid := range helperPids(e.opts.Dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			if b, err := os.ReadFile(e.helper.log()); err == nil {
				t.Logf("helper log:\n%s", b)
			}
		}
	})
	return e
}

// manager is a new Manager on e's files, as a daemon's start makes one;
// the test's end stops it.
func (e *env) manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(e.opts)
	require.NoError(t, err)
	t.Cleanup(m.stop)
	return m
}

// helperPids lists the helper processes whose files are in dir.
func helperPids(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if len(args) > 2 && args[1] == Argv1 && args[2] == dir {
			if st, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat")); err == nil && !zombie(st) {
				out = append(out, pid)
			}
		}
	}
	return out
}

func zombie(stat []byte) bool {
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// requireHelpersGone waits for the helper processes of dir to exit: an
// ended helper has released everything at once, and exits once the
// connections open through its point have ended.
func requireHelpersGone(t *testing.T, dir string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(helperPids(dir)) == 0 }, waitFor, 10*time.Millisecond, "the ended helpers exit")
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func listCalls(c types.CallStats) uint64 {
	for _, m := range c.Methods {
		if m.Method == "VolumeDriver.List" {
			return m.Count
		}
	}
	return 0
}

// TestManagerAcrossDaemons: observe on puts the point in place through a
// helper; its counters outlive the Manager (a daemon killed and started
// again); a reconcile keeps the helper of an enabled plugin, ends the
// helper of a disabled one (the plugin's socket back) and starts one at
// the next enable; a plugin dockerd no longer has is no longer observed;
// observe off puts the socket back and leaves nothing.
func TestManagerAcrossDaemons(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	m1 := e.manager(t)
	require.NoError(t, m1.Set(ctx, e.p, true))
	assert.True(t, m1.Observed(e.p.ID))
	state, err := os.ReadFile(e.opts.StateFile)
	require.NoError(t, err)
	assert.Contains(t, string(state), e.p.ID)
	assert.FileExists(t, observe.AsidePath(e.sock), "the plugin's socket is moved aside")

	c, err := m1.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.True(t, c.Observed)
	assert.True(t, c.Recording, c.Error)
	assert.Equal(t, e.p.ID, c.Plugin)
	assert.Equal(t, "p:latest", c.Name)
	assert.Zero(t, listCalls(c))
	call(t, e.sock, 4)
	c, err = m1.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), listCalls(c))
	since := c.Since

	// The daemon goes; its helper stays, and the next daemon reads it.
	m1.stop()
	call(t, e.sock, 2)
	m2 := e.manager(t)
	assert.True(t, m2.Observed(e.p.ID), "kept in the state file")
	m2.Reconcile(ctx)
	c, err = m2.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.Equal(t, since, c.Since, "the same helper")
	assert.Equal(t, uint64(6), listCalls(c))
	observed, st := m2.Status(ctx, e.p)
	assert.True(t, observed)
	assert.Equal(t, Status{Recording: true}, st)
	all, err := m2.CallStats(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, "docker:p:latest", all[0].Name, "the metrics' plugin label")
	assert.Equal(t, uint64(6), listCalls(all[0]))

	// dockerd disables the plugin: the helper ends and puts the socket back.
	disabled := e.p
	disabled.Enabled = false
	e.dk.set(disabled, events.ActionDisable)
	m2.Reconcile(ctx)
	requireHelpersGone(t, e.opts.Dir)
	assert.NoFileExists(t, observe.AsidePath(e.sock))
	assert.NoFileExists(t, e.helper.sock())
	assert.Equal(t, "1", call(t, e.sock, 1), "the plugin answers on its own socket")
	observed, st = m2.Status(ctx, disabled)
	assert.True(t, observed, "still observed, once it runs again")
	assert.Equal(t, Status{}, st)
	all, err = m2.CallStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)

	// Enabled again: a new helper, new counters.
	e.dk.set(e.p, events.ActionEnable)
	m2.Reconcile(ctx)
	c, err = m2.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.True(t, c.Recording, c.Error)
	assert.True(t, c.Since.After(since))
	assert.Zero(t, listCalls(c))

	// Off: the socket back, nothing left.
	require.NoError(t, m2.Set(ctx, e.p, false))
	assert.False(t, m2.Observed(e.p.ID))
	requireHelpersGone(t, e.opts.Dir)
	assert.NoFileExists(t, observe.AsidePath(e.sock))
	ents, err := os.ReadDir(e.opts.Dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "no helper file is left")
	c, err = m2.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.False(t, c.Observed)
	call(t, e.sock, 1)

	// Observed, then removed from dockerd: no longer observed.
	require.NoError(t, m2.Set(ctx, e.p, true))
	e.dk.remove(e.p)
	m2.Reconcile(ctx)
	assert.False(t, m2.Observed(e.p.ID))
	requireHelpersGone(t, e.opts.Dir)
	state, err = os.ReadFile(e.opts.StateFile)
	require.NoError(t, err)
	assert.NotContains(t, string(state), e.p.ID)
}

// TestManagerHelperKilled: a helper killed with its point in place leaves
// the plugin unreachable (a dead socket at its path) until the daemon
// notices: it puts the plugin's socket back, and starts a new helper.
func TestManagerHelperKilled(t *testing.T) {
	e := newEnv(t)
	ctx := ctxFor(t)
	m := e.manager(t)
	require.NoError(t, m.Set(ctx, e.p, true))
	first, err := m.Calls(ctx, e.p)
	require.NoError(t, err)
	pids := helperPids(e.opts.Dir)
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))

	var c types.CallStats
	require.Eventually(t, func() bool {
		c, err = m.Calls(ctx, e.p)
		return err == nil && c.Recording && c.Since.After(first.Since)
	}, waitFor, 10*time.Millisecond, "a new helper puts the point back")
	call(t, e.sock, 3)
	c, err = m.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), listCalls(c))
	assert.Len(t, helperPids(e.opts.Dir), 1)
}

// TestManagerRunFollowsDockerd: Run reconciles at each of dockerd's plugin
// events: a disable ends the helper, an enable starts one.
func TestManagerRunFollowsDockerd(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	m := e.manager(t)
	require.NoError(t, m.Set(ctx, e.p, true))
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return e.dk.subscribers() == 1 }, waitFor, time.Millisecond, "Run subscribes to dockerd's events")

	disabled := e.p
	disabled.Enabled = false
	e.dk.set(disabled, events.ActionDisable)
	require.Eventually(t, func() bool { return len(helperPids(e.opts.Dir)) == 0 }, waitFor, 10*time.Millisecond, "the disable ends the helper")
	assert.NoFileExists(t, observe.AsidePath(e.sock))

	e.dk.set(e.p, events.ActionEnable)
	require.Eventually(t, func() bool {
		c, err := m.Calls(ctx, e.p)
		return err == nil && c.Recording
	}, waitFor, 10*time.Millisecond, "the enable starts a helper")
	call(t, e.sock, 2)
	c, err := m.Calls(ctx, e.p)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), listCalls(c))
}

// TestSetRefuses: a socket the helper could not follow is refused before
// anything is kept.
func TestSetRefuses(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	p := e.p
	p.Config.Interface.Socket = "sub/p.sock"
	err := m.Set(ctxFor(t), p, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not directly in the plugin's directory")
	assert.False(t, m.Observed(p.ID))
	assert.NoFileExists(t, e.opts.StateFile)
}
