package monitor

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// servedMonitor serves the one-shot requests of a monitor whose recording
// point watches dir/plugin.sock, with no container: those requests need
// none. It returns the monitor, its directory and the plugin socket path.
func servedMonitor(t *testing.T) (m *monitor, dir, sock string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "mon")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "plugin.sock")
	ln, err := net.Listen("unix", filepath.Join(dir, socketFile))
	require.NoError(t, err)
	m = &monitor{dir: dir, ln: ln, obs: newObserver(sock)}
	go m.serve()
	t.Cleanup(func() {
		ln.Close()
		m.obs.end()
	})
	return m, dir, sock
}

func servePluginAt(t *testing.T, sock string) {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"Err":""}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func callAt(t *testing.T, sock string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	_, err = io.ReadAll(c)
	require.NoError(t, err)
}

// TestObserveRequests: an observe request made before the plugin's socket
// exists waits for it and answers once the point is in place; the calls
// request reads the counters; off puts the socket back.
func TestObserveRequests(t *testing.T) {
	_, dir, sock := servedMonitor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := Observe(ctx, dir, false)
	require.NoError(t, err)
	assert.Equal(t, ObserveStatus{}, st)

	done := make(chan ObserveStatus, 1)
	go func() {
		st, err := Observe(ctx, dir, true)
		assert.NoError(t, err)
		done <- st
	}()
	// The request waits for the socket the plugin has not made yet.
	require.Eventually(t, func() bool {
		c, err := Calls(ctx, dir)
		return err == nil && c.Observed
	}, 10*time.Second, 10*time.Millisecond)
	c, err := Calls(ctx, dir)
	require.NoError(t, err)
	assert.False(t, c.Recording)
	assert.Equal(t, "waiting for the plugin's socket", c.Error)
	select {
	case st := <-done:
		t.Fatalf("observe answered before the socket existed: %+v", st)
	default:
	}
	servePluginAt(t, sock)
	st = <-done
	assert.Equal(t, ObserveStatus{On: true, Recording: true}, st)

	callAt(t, sock)
	callAt(t, sock)
	c, err = Calls(ctx, dir)
	require.NoError(t, err)
	assert.True(t, c.Recording)
	require.Len(t, c.Methods, 1)
	assert.Equal(t, "VolumeDriver.List", c.Methods[0].Method)
	assert.Equal(t, map[string]uint64{"200": 2}, c.Methods[0].Statuses)

	st, err = Observe(ctx, dir, false)
	require.NoError(t, err)
	assert.Equal(t, ObserveStatus{}, st)
	callAt(t, sock)
	c, err = Calls(ctx, dir)
	require.NoError(t, err)
	assert.False(t, c.Observed)
	assert.Equal(t, uint64(2), c.Methods[0].Count, "counters kept, the call made unobserved not counted")
}

// TestObserveEndsWithThePlugin: a plugin that exits before it made its
// socket ends the wait, with the reason.
func TestObserveEndsWithThePlugin(t *testing.T) {
	m, dir, _ := servedMonitor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan ObserveStatus, 1)
	go func() {
		st, err := Observe(ctx, dir, true)
		assert.NoError(t, err)
		done <- st
	}()
	require.Eventually(t, func() bool {
		c, err := Calls(ctx, dir)
		return err == nil && c.Observed
	}, 10*time.Second, 10*time.Millisecond)
	m.obs.end() // as run does once the container has exited
	st := <-done
	assert.True(t, st.On)
	assert.False(t, st.Recording)
	assert.NotEmpty(t, st.Error)
}
