package dockerobserve

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/observe"
	"github.com/plugdbg/plugdbg/runtime/sockwatch"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// waitFor bounds the waits for what a follower or a helper reports.
const waitFor = 15 * time.Second

// shortDir is a temporary directory with a short path: a plugin's socket,
// <root>/<64-hex id>/p.sock, must stay within a unix socket's 107 bytes.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dob")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// servePlugin serves a volume plugin on sock, as a plugin does: it
// removes what is at the path, then listens there. Its answers carry run
// in a Run header, to tell the plugin's runs apart. stop closes it, which
// unlinks the name it listened on, as a Go plugin's exit does.
func servePlugin(t *testing.T, sock, run string) (stop func()) {
	t.Helper()
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Run", run)
		if r.URL.Path == "/VolumeDriver.List" {
			_, _ = io.WriteString(w, `{"Volumes":[],"Err":""}`)
			return
		}
		_, _ = io.WriteString(w, `{"Err":""}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	stop = func() {
		ln.Close() // now, whether Serve has begun or not
		_ = srv.Close()
	}
	t.Cleanup(stop)
	return stop
}

// call makes n VolumeDriver.List calls on sock, a connection each, and
// returns the run of the plugin that answered the last.
func call(t *testing.T, sock string, n int) (run string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{
		DialContext:       func(context.Context, string, string) (net.Conn, error) { return net.Dial("unix", sock) },
		DisableKeepAlives: true,
	}}
	for range n {
		resp, err := c.Post("http://p/VolumeDriver.List", "application/json", strings.NewReader("{}"))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		run = resp.Header.Get("Run")
	}
	return run
}

// listCount is how many VolumeDriver.List calls stats counted.
func listCount(s *observe.Stats) uint64 {
	for _, m := range s.Snapshot().Methods {
		if m.Method == "VolumeDriver.List" {
			return m.Count
		}
	}
	return 0
}

// pluginLayout is a plugin's directory and socket under a root laid out as
// dockerd's plugin root.
func pluginLayout(t *testing.T) (root, id, dir, sock string) {
	t.Helper()
	root = shortDir(t)
	id = strings.Repeat("ab", 32)
	dir = filepath.Join(root, id)
	require.NoError(t, os.Mkdir(dir, 0o700))
	return root, id, dir, filepath.Join(dir, "p.sock")
}

func readRecord(t *testing.T, path string) record {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var r record
	require.NoError(t, json.Unmarshal(data, &r))
	return r
}

// TestFollowerFollowsThePluginsRuns: the point goes on the plugin's socket
// at once; when dockerd's plugin exits (its directory removed with the
// point's socket) and starts again (a new directory, a new socket), the
// point goes on the new socket and counts on into the same counters; a
// plugin that makes a new socket in the same directory is followed too;
// the end puts the plugin's own socket back, without leaving anything
// aside.
func TestFollowerFollowsThePluginsRuns(t *testing.T) {
	root, id, dir, sock := pluginLayout(t)
	stop := servePlugin(t, sock, "1")
	plugin := idOf(sock)
	stats := observe.NewStats()
	recPath := filepath.Join(root, "point.json")
	f := newFollower(Config{ID: id, Name: "p", Socket: sock}, recPath, stats, t.Logf)
	require.NoError(t, f.start())
	t.Cleanup(func() { _, _ = f.end() })

	require.Equal(t, Status{Recording: true}, f.status())
	assert.Equal(t, plugin, idOf(observe.AsidePath(sock)), "the plugin's socket is moved aside")
	proxy := idOf(sock)
	rec := readRecord(t, recPath)
	assert.Equal(t, record{Socket: sock, ProxyIno: proxy.Ino, ProxyBirth: proxy.Birth, PluginIno: plugin.Ino, PluginBirth: plugin.Birth}, rec)
	assert.Equal(t, "1", call(t, sock, 3))
	assert.Equal(t, uint64(3), listCount(stats))

	// dockerd's plugin exits: its listener's close unlinks the path (the
	// point's socket), and dockerd removes the directory.
	stop()
	require.NoError(t, os.RemoveAll(dir))
	require.Eventually(t, func() bool { return !f.status().Recording }, waitFor, time.Millisecond)
	assert.Contains(t, f.status().Error, "waiting for the plugin's socket")
	assert.NoFileExists(t, recPath)

	// It starts again: a new directory, a new socket.
	require.NoError(t, os.Mkdir(dir, 0o700))
	stop = servePlugin(t, sock, "2")
	require.Eventually(t, func() bool { return f.status().Recording }, waitFor, time.Millisecond)
	assert.Equal(t, "2", call(t, sock, 2), "the new run answers through the point")
	assert.Equal(t, uint64(5), listCount(stats), "the counters go on across the plugin's runs")

	// A plugin that makes a new socket in the same directory.
	stop()
	servePlugin(t, sock, "3")
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.point != nil && f.intact() && listening(f.aside)
	}, waitFor, time.Millisecond)
	assert.Equal(t, "3", call(t, sock, 1))
	assert.Equal(t, uint64(6), listCount(stats))

	rec = readRecord(t, recPath)
	p, err := f.end()
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.NotEqual(t, fileID{Ino: rec.ProxyIno, Birth: rec.ProxyBirth}, idOf(sock), "the point's socket is off the path")
	assert.NoFileExists(t, observe.AsidePath(sock))
	assert.NoFileExists(t, recPath)
	assert.Equal(t, "3", call(t, sock, 1), "the plugin's own socket is back at its path")
	assert.Equal(t, uint64(6), listCount(stats), "calls after the end are not counted")
}

// TestFollowerWaitsForThePlugin: a follower started before the plugin runs
// (no directory yet) puts the point on its socket once it appears.
func TestFollowerWaitsForThePlugin(t *testing.T) {
	root, id, dir, sock := pluginLayout(t)
	require.NoError(t, os.Remove(dir))
	stats := observe.NewStats()
	f := newFollower(Config{ID: id, Name: "p", Socket: sock}, filepath.Join(root, "point.json"), stats, t.Logf)
	require.NoError(t, f.start())
	t.Cleanup(func() { _, _ = f.end() })
	assert.False(t, f.status().Recording)

	require.NoError(t, os.Mkdir(dir, 0o700))
	servePlugin(t, sock, "1")
	require.Eventually(t, func() bool { return f.status().Recording }, waitFor, time.Millisecond)
	call(t, sock, 4)
	assert.Equal(t, uint64(4), listCount(stats))
}

// TestFollowerUnderATrace: a trace put on the observed socket stacks on the
// point, which stays in place and counts; the end with the trace gone
// puts the plugin's socket back.
func TestFollowerUnderATrace(t *testing.T) {
	root, id, _, sock := pluginLayout(t)
	servePlugin(t, sock, "1")
	pluginIno := sockwatch.Inode(sock)
	stats := observe.NewStats()
	f := newFollower(Config{ID: id, Name: "p", Socket: sock}, filepath.Join(root, "point.json"), stats, t.Logf)
	require.NoError(t, f.start())
	t.Cleanup(func() { _, _ = f.end() })
	require.True(t, f.status().Recording)

	traced := make(chan struct{}, 16)
	tr, err := tracer.Start(sock, func(types.TraceRecord) { traced <- struct{}{} })
	require.NoError(t, err)
	call(t, sock, 2)
	<-traced
	<-traced
	f.mu.Lock()
	intact := f.intact()
	f.mu.Unlock()
	assert.True(t, intact, "the point under the trace is intact")
	require.NoError(t, tr.Stop())
	call(t, sock, 1)
	assert.Equal(t, uint64(3), listCount(stats))
	assert.True(t, f.status().Recording)

	_, err = f.end()
	require.NoError(t, err)
	assert.Equal(t, pluginIno, sockwatch.Inode(sock))
}

// killedPoint leaves the names as a helper killed with its point on sock
// leaves them: the plugin's socket aside, a dead socket (the point's) at
// the path. It returns the point record.
func killedPoint(t *testing.T, sock string) record {
	t.Helper()
	plugin := idOf(sock)
	aside := observe.AsidePath(sock)
	ln, err := net.Listen("unix", aside)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, sockwatch.Exchange(aside, sock))
	ln.Close()
	proxy := idOf(sock)
	return record{Socket: sock, ProxyIno: proxy.Ino, ProxyBirth: proxy.Birth, PluginIno: plugin.Ino, PluginBirth: plugin.Birth}
}

// TestRepair: a record left by a killed helper is undone only where the
// names still hold what it says.
func TestRepair(t *testing.T) {
	tests := []struct {
		name string
		// what happens after the helper was killed, before the repair
		change func(t *testing.T, sock string, stopPlugin func())
		// the plugin's socket is back at the path (else the aside name
		// is removed and the path holds something else, or nothing)
		back bool
	}{
		{name: "the dead point's socket at the path", change: func(*testing.T, string, func()) {}, back: true},
		{name: "the path free, the plugin listening", change: func(t *testing.T, sock string, _ func()) {
			require.NoError(t, os.Remove(sock))
		}, back: true},
		{name: "the path free, the plugin gone", change: func(t *testing.T, sock string, stopPlugin func()) {
			stopPlugin() // unlinks the name it listened on: the point's
		}},
		{name: "a new socket at the path", change: func(t *testing.T, sock string, _ func()) {
			require.NoError(t, os.Remove(sock))
			servePlugin(t, sock, "2")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _, _, sock := pluginLayout(t)
			stop := servePlugin(t, sock, "1")
			rec := killedPoint(t, sock)
			recPath := filepath.Join(root, "point.json")
			require.NoError(t, os.WriteFile(recPath, mustJSON(t, rec), 0o600))
			tt.change(t, sock, stop)
			before := idOf(sock)

			require.NoError(t, repair(recPath, t.Logf))
			assert.NoFileExists(t, recPath)
			assert.NoFileExists(t, observe.AsidePath(sock))
			if tt.back {
				assert.Equal(t, fileID{Ino: rec.PluginIno, Birth: rec.PluginBirth}, idOf(sock), "the plugin's socket is back at its path")
				call(t, sock, 1)
			} else {
				assert.Equal(t, before, idOf(sock), "the path is left as it is")
			}
		})
	}

	t.Run("names that do not hold what the record says are left alone", func(t *testing.T) {
		root, _, _, sock := pluginLayout(t)
		servePlugin(t, sock, "1")
		aside := observe.AsidePath(sock)
		require.NoError(t, os.WriteFile(aside, nil, 0o600))
		recPath := filepath.Join(root, "point.json")
		require.NoError(t, os.WriteFile(recPath, mustJSON(t, record{Socket: sock, ProxyIno: 1, PluginIno: 2}), 0o600))
		ino := sockwatch.Inode(sock)
		require.NoError(t, repair(recPath, t.Logf))
		assert.Equal(t, ino, sockwatch.Inode(sock))
		assert.FileExists(t, aside)
		assert.NoFileExists(t, recPath)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
