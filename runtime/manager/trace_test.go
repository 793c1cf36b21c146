package manager

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// killTrace leaves sock as a trace whose daemon was killed leaves it: the
// plugin's socket moved aside, and at the path the proxy's socket, which
// no one listens on any more.
func killTrace(t *testing.T, sock string) {
	t.Helper()
	require.NoError(t, os.Rename(sock, tracer.AsidePath(sock)))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
}

func activates(sock string) error {
	c := probe.New(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Activate(ctx)
	return err
}

// TestRestorePutsBackStaleTrace: a daemon that reattaches to a plugin
// whose socket a dead daemon's trace left moved aside puts it back; what
// it cannot put back shows in inspect and makes traces fail with why.
func TestRestorePutsBackStaleTrace(t *testing.T) {
	tests := []struct {
		name    string
		block   func(t *testing.T, sock string) // keeps the socket from going back
		wantErr bool
	}{
		{name: "put back", block: func(*testing.T, string) {}},
		{name: "path taken by a directory", block: func(t *testing.T, sock string) {
			require.NoError(t, os.Remove(sock))
			require.NoError(t, os.MkdirAll(filepath.Join(sock, "x"), 0o700))
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestManager(t)
			ctx := context.Background()
			id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
			require.NoError(t, err)
			require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
			p, err := m.Inspect(id)
			require.NoError(t, err)
			sock, aside := p.State.Socket, tracer.AsidePath(p.State.Socket)
			killTrace(t, sock)
			tt.block(t, sock)
			require.Error(t, activates(sock), "the path reaches no plugin")
			m.Shutdown()

			m2, err := New(m.opts)
			require.NoError(t, err)
			require.NoError(t, m2.Restore(ctx))
			defer m2.Shutdown()
			p, err = m2.Inspect(id)
			require.NoError(t, err)
			assert.Equal(t, types.StatusRunning, p.State.Status)
			if !tt.wantErr {
				assert.Empty(t, p.State.StaleTrace)
				assert.NoFileExists(t, aside)
				assert.NoError(t, activates(sock), "the path reaches the plugin")
				return
			}
			assert.Contains(t, p.State.StaleTrace, "moved aside by a trace that ended with its daemon")
			assert.Contains(t, p.State.StaleTrace, aside)
			err = m2.Trace(ctx, "fake", func(string) { t.Error("a trace started") }, func(types.TraceRecord) error { return nil })
			assert.ErrorContains(t, err, "put the plugin's socket back from "+aside)
		})
	}
}

// TestTraceFollowsRestartedPlugin: a trace whose plugin crashes and is
// restarted puts its proxy on the plugin's new socket, says so with a
// second start, and records the calls made on the path after it.
func TestTraceFollowsRestartedPlugin(t *testing.T) {
	m, x := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err := m.Inspect(id)
	require.NoError(t, err)
	sock := p.State.Socket

	starts := make(chan string, 4)
	recs := make(chan types.TraceRecord, 16)
	traceCtx, stop := context.WithCancel(ctx)
	defer stop()
	ended := make(chan error, 1)
	go func() {
		ended <- m.Trace(traceCtx, "fake", func(s string) { starts <- s }, func(r types.TraceRecord) error {
			recs <- r
			return nil
		})
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case s := <-starts:
			return s
		case err := <-ended:
			require.FailNow(t, "the trace ended before "+what, "%v", err)
		case <-time.After(30 * time.Second):
			require.FailNow(t, "no "+what)
		}
		return ""
	}
	require.Equal(t, sock, next("start"))

	x.crash(id, 1)
	require.Equal(t, sock, next("start on the restarted plugin's socket"))
	p, err = m.Inspect(id)
	require.NoError(t, err)
	assert.Equal(t, 1, p.State.RestartCount, "the plugin restarted")
	require.NoError(t, activates(sock))
	select {
	case r := <-recs:
		assert.Equal(t, "Plugin.Activate", r.Method)
		assert.Equal(t, 200, r.Status)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the call after the restart is not in the trace")
	}

	stop()
	require.NoError(t, <-ended)
	assert.NoFileExists(t, tracer.AsidePath(sock), "the trace's end put the new socket back")
	require.NoError(t, activates(sock))
	assert.Empty(t, recs, "calls after the trace are not recorded")
}
