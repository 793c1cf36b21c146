package tracer_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// echoPlugin answers each POST with {"Echo": <body>}, or with an Err for
// /Fail, on a unix socket in a short temp dir.
func echoPlugin(t *testing.T) (sock string, served *int64, mu *sync.Mutex) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdt")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock = filepath.Join(dir, "p.sock")
	served, mu = serveEcho(t, sock)
	return sock, served, mu
}

// serveEcho is echoPlugin's server, listening on sock.
func serveEcho(t *testing.T, sock string) (served *int64, mu *sync.Mutex) {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	var n int64
	mu = &sync.Mutex{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		mu.Unlock()
		switch r.URL.Path {
		case "/Fail":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"Err":"failing on purpose"}`)
		case "/Big":
			fmt.Fprint(w, `{"Data":"`+strings.Repeat("x", 1<<20)+`"}`)
		default:
			fmt.Fprintf(w, `{"Echo":%q}`, body)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &n, mu
}

func client(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func post(t *testing.T, c *http.Client, method, body string) (int, string) {
	t.Helper()
	resp, err := c.Post("http://plugin/"+method, "", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

func inode(t *testing.T, path string) uint64 {
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

type recorder struct {
	mu   sync.Mutex
	recs []types.TraceRecord
}

func (r *recorder) emit(rec types.TraceRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

func (r *recorder) all() []types.TraceRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]types.TraceRecord(nil), r.recs...)
}

// TestConcurrentClients traces calls from several keep-alive clients at
// once: every call is answered unchanged and recorded once, with its own
// request and answer.
func TestConcurrentClients(t *testing.T) {
	sock, _, _ := echoPlugin(t)
	orig := inode(t, sock)
	rec := &recorder{}
	p, err := tracer.Start(sock, rec.emit)
	require.NoError(t, err)
	assert.NotEqual(t, orig, inode(t, sock), "the proxy listens at the path")

	const clients, calls = 8, 50
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			cl := client(sock)
			defer cl.CloseIdleConnections()
			for i := range calls {
				body := fmt.Sprintf(`{"Name":"c%d-%d"}`, c, i)
				status, got := post(t, cl, "VolumeDriver.Get", body)
				assert.Equal(t, 200, status)
				assert.Equal(t, fmt.Sprintf(`{"Echo":%q}`, body), got, "answer altered")
			}
		})
	}
	wg.Wait()
	cl := client(sock)
	status, got := post(t, cl, "Fail", "{}")
	assert.Equal(t, 500, status)
	assert.Equal(t, `{"Err":"failing on purpose"}`, got)
	cl.CloseIdleConnections()

	require.Eventually(t, func() bool { return len(rec.all()) == clients*calls+1 }, 5*time.Second, 10*time.Millisecond)
	seen := map[string]bool{}
	conns := map[int]bool{}
	for _, r := range rec.all() {
		if r.Method == "Fail" {
			assert.Equal(t, 500, r.Status)
			assert.Equal(t, "failing on purpose", r.Err)
			continue
		}
		assert.Equal(t, "VolumeDriver.Get", r.Method)
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, fmt.Sprintf(`{"Echo":%q}`, r.Request), r.Response, "request and answer paired")
		assert.False(t, seen[r.Request], "recorded twice: %s", r.Request)
		seen[r.Request] = true
		conns[r.Conn] = true
		assert.Positive(t, r.Latency)
		assert.Empty(t, r.Err)
	}
	assert.Len(t, seen, clients*calls)
	assert.GreaterOrEqual(t, len(conns), clients, "one connection per client at least")

	require.NoError(t, p.Stop())
	p.Wait()
	assert.Equal(t, orig, inode(t, sock), "Stop puts the plugin's own socket back")
	_, err = os.Lstat(tracer.AsidePath(sock))
	assert.True(t, os.IsNotExist(err))
	status, _ = post(t, client(sock), "VolumeDriver.List", "{}")
	assert.Equal(t, 200, status)
	assert.Len(t, rec.all(), clients*calls+1, "after Stop calls go straight to the plugin")
}

func TestBigAnswer(t *testing.T) {
	sock, _, _ := echoPlugin(t)
	rec := &recorder{}
	p, err := tracer.Start(sock, rec.emit)
	require.NoError(t, err)
	defer p.Stop()
	cl := client(sock)
	defer cl.CloseIdleConnections()
	_, got := post(t, cl, "Big", "")
	assert.Len(t, got, len(`{"Data":""}`)+1<<20, "forwarded whole")
	require.Eventually(t, func() bool { return len(rec.all()) == 1 }, 5*time.Second, 10*time.Millisecond)
	r := rec.all()[0]
	assert.Less(t, len(r.Response), 70<<10, "the record keeps the first 64 KiB")
	assert.Contains(t, r.Response, "more bytes)")
}

// TestPluginRestartedWhileTraced: the plugin made a new socket at the path
// while traced; Stop keeps the new one and removes the stale moved one.
func TestPluginRestartedWhileTraced(t *testing.T) {
	sock, _, _ := echoPlugin(t)
	p, err := tracer.Start(sock, func(types.TraceRecord) {})
	require.NoError(t, err)
	require.NoError(t, os.Remove(sock))
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	fresh := inode(t, sock)
	require.NoError(t, p.Stop())
	assert.Equal(t, fresh, inode(t, sock))
	_, err = os.Lstat(tracer.AsidePath(sock))
	assert.True(t, os.IsNotExist(err))
}

// TestResumeFollowsRestartedPlugin: once the plugin restarted in a socket
// directory made anew (both sockets gone with the old one), Resume puts the
// proxy in front of its new socket: calls on the path are recorded again,
// connection numbers going on, and Stop puts the new socket back.
func TestResumeFollowsRestartedPlugin(t *testing.T) {
	sock, _, _ := echoPlugin(t)
	rec := &recorder{}
	p, err := tracer.Start(sock, rec.emit)
	require.NoError(t, err)
	defer p.Stop()
	moved, err := p.Resume()
	require.NoError(t, err)
	assert.False(t, moved, "the proxy has the path: nothing to follow")
	cl := client(sock)
	post(t, cl, "Before", "1")
	cl.CloseIdleConnections()
	// The record comes once the proxy has parsed the answer, which may be
	// after the client read it.
	require.Eventually(t, func() bool { return len(rec.all()) == 1 }, 5*time.Second, 10*time.Millisecond)

	dir := filepath.Dir(sock)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.Mkdir(dir, 0o700))
	serveEcho(t, sock)
	fresh := inode(t, sock)
	moved, err = p.Resume()
	require.NoError(t, err)
	assert.True(t, moved)
	assert.NotEqual(t, fresh, inode(t, sock), "the proxy has the path again")
	assert.Equal(t, fresh, inode(t, tracer.AsidePath(sock)), "the new socket is moved aside")
	cl = client(sock)
	status, got := post(t, cl, "After", "2")
	cl.CloseIdleConnections()
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"Echo":"2"}`, got)
	require.Eventually(t, func() bool { return len(rec.all()) == 2 }, 5*time.Second, 10*time.Millisecond)
	recs := rec.all()
	assert.Equal(t, "Before", recs[0].Method)
	assert.Equal(t, "After", recs[1].Method)
	assert.Equal(t, recs[0].Conn+1, recs[1].Conn, "connection numbers go on")

	require.NoError(t, p.Stop())
	assert.Equal(t, fresh, inode(t, sock), "Stop puts the new socket back")
	assert.NoFileExists(t, tracer.AsidePath(sock))
	moved, err = p.Resume()
	assert.NoError(t, err)
	assert.False(t, moved, "a stopped proxy stays stopped")
	assert.Equal(t, fresh, inode(t, sock))
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := tracer.Start(file, func(types.TraceRecord) {})
	assert.ErrorContains(t, err, "is not a socket")
	_, err = tracer.Start(filepath.Join(dir, "missing.sock"), func(types.TraceRecord) {})
	assert.ErrorContains(t, err, "no such file")

	sock, _, _ := echoPlugin(t)
	p, err := tracer.Start(sock, func(types.TraceRecord) {})
	require.NoError(t, err)
	defer p.Stop()
	_, err = tracer.Start(sock, func(types.TraceRecord) {})
	assert.ErrorContains(t, err, "already traced")
}

// TestNoCallLostAcrossStartStop: clients that keep dialling the path while
// traces start and stop never miss the socket, and every answer is right.
func TestNoCallLostAcrossStartStop(t *testing.T) {
	sock, _, _ := echoPlugin(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls sync.Map
	for c := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cl := client(sock) // a fresh connection each time: each call dials the path
				body := fmt.Sprintf("c%d-%d", c, i)
				resp, err := cl.Post("http://plugin/X", "", strings.NewReader(body))
				if !assert.NoError(t, err) {
					return
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cl.CloseIdleConnections()
				assert.Equal(t, fmt.Sprintf(`{"Echo":%q}`, body), string(data))
				calls.Store(body, true)
			}
		})
	}
	for range 20 {
		p, err := tracer.Start(sock, func(types.TraceRecord) {})
		require.NoError(t, err)
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, p.Stop())
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	assert.Positive(t, n)
}
