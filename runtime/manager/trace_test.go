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

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/trace"
)

// killTrace leaves sock as a trace whose daemon was killed leaves it: the
// plugin's socket moved aside, and at the path the proxy's socket, which
// no one listens on any more.
func killTrace(t *testing.T, sock string) {
	t.Helper()
	require.NoError(t, os.Rename(sock, trace.AsidePath(sock)))
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
			sock, aside := p.State.Socket, trace.AsidePath(p.State.Socket)
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
			assert.Equal(t, StatusRunning, p.State.Status)
			if !tt.wantErr {
				assert.Empty(t, p.State.StaleTrace)
				assert.NoFileExists(t, aside)
				assert.NoError(t, activates(sock), "the path reaches the plugin")
				return
			}
			assert.Contains(t, p.State.StaleTrace, "moved aside by a trace that ended with its daemon")
			assert.Contains(t, p.State.StaleTrace, aside)
			err = m2.Trace(ctx, "fake", func(string) { t.Error("a trace started") }, func(trace.Record) error { return nil })
			assert.ErrorContains(t, err, "put the plugin's socket back from "+aside)
		})
	}
}
