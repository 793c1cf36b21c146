package observe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// shortDir is a temporary directory with a path short enough for unix
// sockets (t.TempDir's may not be).
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "obs")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// volumePlugin answers like a volume plugin: List with no volumes, Get
// with an Err, anything else 404.
func volumePlugin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/VolumeDriver.List", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
		_, _ = io.WriteString(w, `{"Volumes":[],"Err":""}`)
	})
	mux.HandleFunc("/VolumeDriver.Get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"Err":"no such volume"}`)
	})
	return mux
}

// servePlugin serves h on a unix socket "plugin.sock" in a new directory
// and returns the socket's path and how many connections it accepted.
func servePlugin(t testing.TB, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	path := filepath.Join(shortDir(t), "plugin.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	var conns atomic.Int64
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return path, &conns
}

// serveRaw serves a plugin that reads each request and writes answer(n)
// for the n-th request of a connection (from 0), closing the connection
// after it when close is set.
func serveRaw(t *testing.T, answer func(n int) (string, bool)) string {
	t.Helper()
	path := filepath.Join(shortDir(t), "plugin.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return // a request cut short gets no answer
					}
					a, last := answer(n)
					if _, err := io.WriteString(c, a); err != nil || last {
						return
					}
				}
			}()
		}
	}()
	return path
}

func install(t *testing.T, path string) (*Point, *Stats) {
	t.Helper()
	s := NewStats()
	p, err := Install(path, s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Remove() })
	return p, s
}

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func call(t *testing.T, c *http.Client, method string) int {
	t.Helper()
	resp, err := c.Post("http://plugin/"+method, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// methods returns the snapshot's counters by method.
func methods(s *Stats) map[string]types.MethodCalls {
	out := map[string]types.MethodCalls{}
	for _, m := range s.Snapshot().Methods {
		out[m.Method] = m
	}
	return out
}

func socketInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestCountsKeepAlive makes calls on one kept-alive connection: each is
// counted once under its method and status, a 200 with Err as "err", and
// timed into cumulative buckets.
func TestCountsKeepAlive(t *testing.T) {
	path, conns := servePlugin(t, volumePlugin())
	_, s := install(t, path)
	c := unixClient(path)
	for range 10 {
		assert.Equal(t, 200, call(t, c, "VolumeDriver.List"))
	}
	for range 3 {
		assert.Equal(t, 200, call(t, c, "VolumeDriver.Get"))
	}
	for range 2 {
		assert.Equal(t, 404, call(t, c, "VolumeDriver.Nope"))
	}
	assert.Equal(t, int64(1), conns.Load(), "one kept-alive connection")

	got := methods(s)
	assert.Equal(t, map[string]uint64{"200": 10}, got["VolumeDriver.List"].Statuses)
	assert.Equal(t, map[string]uint64{"err": 3}, got["VolumeDriver.Get"].Statuses)
	assert.Equal(t, map[string]uint64{"404": 2}, got["VolumeDriver.Nope"].Statuses)
	list := got["VolumeDriver.List"]
	assert.Equal(t, uint64(10), list.Count)
	require.Len(t, list.Buckets, len(types.CallLatencyBuckets))
	for i := 1; i < len(list.Buckets); i++ {
		assert.LessOrEqual(t, list.Buckets[i-1], list.Buckets[i], "cumulative")
	}
	assert.Equal(t, uint64(10), list.Buckets[len(list.Buckets)-1], "every call under 10 s")
	assert.Positive(t, list.Sum)
	assert.Zero(t, s.Snapshot().Unparsed)
}

// TestCountsPipelined sends requests back to back on one connection before
// reading any answer; a HEAD's answer has no body.
func TestCountsPipelined(t *testing.T) {
	path, _ := servePlugin(t, volumePlugin())
	_, s := install(t, path)
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	reqs := []string{
		"POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}",
		"HEAD /VolumeDriver.List HTTP/1.1\r\nHost: p\r\n\r\n",
		"POST /VolumeDriver.Get?x=1 HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"POST /Nope HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n",
		"POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}",
	}
	_, err = io.WriteString(c, strings.Join(reqs, ""))
	require.NoError(t, err)
	br := bufio.NewReader(c)
	var statuses []int
	for _, method := range []string{"POST", "HEAD", "POST", "POST", "POST"} {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		statuses = append(statuses, resp.StatusCode)
	}
	assert.Equal(t, []int{200, 200, 200, 404, 200}, statuses)
	got := methods(s)
	assert.Equal(t, map[string]uint64{"200": 3}, got["VolumeDriver.List"].Statuses)
	assert.Equal(t, map[string]uint64{"err": 1}, got["VolumeDriver.Get"].Statuses, "the query is not part of the method")
	assert.Equal(t, map[string]uint64{"404": 1}, got["Nope"].Statuses)
}

// TestCountsUnframedAnswers: chunked answers, one with Err split across
// chunks; an interim 100; an answer without Content-Length that ends with
// its connection.
func TestCountsUnframedAnswers(t *testing.T) {
	path := serveRaw(t, func(n int) (string, bool) {
		switch n {
		case 0:
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Err\r\n8;ext=1\r\n\":\"boom\"\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n", false
		case 1:
			return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"Err\":\"\"}", false
		default:
			return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Volumes\":[],\"Err\":\"gone\"}", true
		}
	})
	_, s := install(t, path)
	c := unixClient(path)
	for range 3 {
		assert.Equal(t, 200, call(t, c, "VolumeDriver.List"))
	}
	assert.Equal(t, map[string]uint64{"err": 2, "200": 1}, methods(s)["VolumeDriver.List"].Statuses)
	assert.Zero(t, s.Snapshot().Unparsed)
}

// TestCountsDroppedRequest: a client that drops its connection in the
// middle of a request gets no answer, and the call counts as "none" once
// the connection has ended.
func TestCountsDroppedRequest(t *testing.T) {
	path := serveRaw(t, func(int) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false })
	_, s := install(t, path)
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	_, err = io.WriteString(c, "POST /VolumeDriver.Mount HTTP/1.1\r\nHost: p\r\nContent-Length: 100\r\n\r\n{\"Name\":")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return methods(s)["VolumeDriver.Mount"].Count == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]uint64{"none": 1}, methods(s)["VolumeDriver.Mount"].Statuses)
}

// TestUnparsedForwarded: traffic that is not HTTP is forwarded unchanged
// and counted as an unparsed connection.
func TestUnparsedForwarded(t *testing.T) {
	path := filepath.Join(shortDir(t), "echo.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	_, s := install(t, path)
	c, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "hello there\n")
	require.NoError(t, err)
	got := make([]byte, 12)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, "hello there\n", string(got))
	assert.Equal(t, uint64(1), s.Snapshot().Unparsed)
	assert.Empty(t, s.Snapshot().Methods)
}

// TestMethodBound: past MaxMethods distinct paths, and for paths that are
// no method name, calls count as "other".
func TestMethodBound(t *testing.T) {
	path, _ := servePlugin(t, volumePlugin())
	_, s := install(t, path)
	c := unixClient(path)
	for i := range types.MaxMethods + 2 {
		call(t, c, fmt.Sprintf("M%d", i))
	}
	call(t, c, "a%20b")
	got := methods(s)
	assert.Len(t, got, types.MaxMethods+1)
	assert.Equal(t, uint64(3), got[types.OtherMethod].Count)
}

// TestRemoveRestores: Remove puts the plugin's own socket back at its
// path, and a connection opened through the point keeps working and being
// counted.
func TestRemoveRestores(t *testing.T) {
	path, _ := servePlugin(t, volumePlugin())
	orig := socketInode(t, path)
	p, s := install(t, path)
	assert.NotEqual(t, orig, socketInode(t, path), "the point has the path")
	kept := unixClient(path)
	call(t, kept, "VolumeDriver.List")

	require.NoError(t, p.Remove())
	assert.Equal(t, orig, socketInode(t, path), "the plugin's socket is back")
	_, err := os.Lstat(AsidePath(path))
	assert.True(t, os.IsNotExist(err), "the point's socket is gone")
	call(t, kept, "VolumeDriver.List")
	assert.Equal(t, uint64(2), methods(s)["VolumeDriver.List"].Count, "the kept-alive connection is still counted")
	call(t, unixClient(path), "VolumeDriver.List")
	assert.Equal(t, uint64(2), methods(s)["VolumeDriver.List"].Count, "a new connection goes straight to the plugin")
	kept.CloseIdleConnections()
	p.Wait()
}

// TestStacksWithTrace: a trace over the point, or the point under a trace
// already there, both see every call, and either can go first.
func TestStacksWithTrace(t *testing.T) {
	for _, order := range []string{"observe-first", "trace-first"} {
		for _, stop := range []string{"observe-stops-first", "trace-stops-first"} {
			t.Run(order+"/"+stop, func(t *testing.T) {
				path, _ := servePlugin(t, volumePlugin())
				orig := socketInode(t, path)
				var traced atomic.Int64
				startTrace := func() *tracer.Proxy {
					tp, err := tracer.Start(path, func(types.TraceRecord) { traced.Add(1) })
					require.NoError(t, err)
					return tp
				}
				var tp *tracer.Proxy
				if order == "trace-first" {
					tp = startTrace()
				}
				s := NewStats()
				p, err := Install(path, s)
				require.NoError(t, err)
				if tp == nil {
					tp = startTrace()
				}
				call(t, unixClient(path), "VolumeDriver.List")
				assert.Equal(t, uint64(1), methods(s)["VolumeDriver.List"].Count)
				require.Eventually(t, func() bool { return traced.Load() == 1 }, 10*time.Second, 10*time.Millisecond)

				first, second := func() error { return p.Remove() }, func() error { return tp.Stop() }
				if stop == "trace-stops-first" {
					first, second = second, first
				}
				require.NoError(t, first())
				call(t, unixClient(path), "VolumeDriver.List")
				require.NoError(t, second())
				assert.Equal(t, orig, socketInode(t, path), "the plugin's socket is back")
				assert.Equal(t, 200, call(t, unixClient(path), "VolumeDriver.List"))
				for _, aside := range []string{AsidePath(path), tracer.AsidePath(path)} {
					_, err := os.Lstat(aside)
					assert.True(t, os.IsNotExist(err), "%s is gone", aside)
				}
			})
		}
	}
}

// TestPointTrace: while a trace is attached, the point records each call
// whose request passes it, on a connection opened before as on a new
// one, and still counts every call once; detached, it records none.
func TestPointTrace(t *testing.T) {
	path, _ := servePlugin(t, volumePlugin())
	p, s := install(t, path)
	kept := unixClient(path)
	defer kept.CloseIdleConnections()
	call(t, kept, "VolumeDriver.List")

	recs := make(chan types.TraceRecord, 16)
	p.Trace(func(r types.TraceRecord) { recs <- r })
	call(t, kept, "VolumeDriver.Get")
	fresh := unixClient(path)
	call(t, fresh, "VolumeDriver.List")
	fresh.CloseIdleConnections()
	p.Trace(nil)
	call(t, kept, "VolumeDriver.List")

	// Each record is handed over before its answer is forwarded.
	require.Len(t, recs, 2)
	get, list := <-recs, <-recs
	assert.Equal(t, "VolumeDriver.Get", get.Method)
	assert.Equal(t, "{}", get.Request)
	assert.Equal(t, 200, get.Status)
	assert.Equal(t, `{"Err":"no such volume"}`, get.Response)
	assert.Equal(t, "no such volume", get.Err)
	assert.Equal(t, "VolumeDriver.List", list.Method)
	assert.Equal(t, `{"Volumes":[],"Err":""}`, list.Response)
	assert.Empty(t, list.Err)
	assert.Equal(t, 1, get.Conn, "the kept-alive connection, opened before the trace")
	assert.Equal(t, 2, list.Conn)

	got := methods(s)
	assert.Equal(t, map[string]uint64{"200": 3}, got["VolumeDriver.List"].Statuses, "every call counted once")
	assert.Equal(t, map[string]uint64{"err": 1}, got["VolumeDriver.Get"].Statuses)
}

// TestFeedAllocations: parsing a kept-alive call, its answer carrying an
// empty Err, allocates nothing, with no trace attached to the point (its
// tap off) as without a tap at all.
func TestFeedAllocations(t *testing.T) {
	for _, tap := range []*tracer.Tap{nil, {}} {
		s := NewStats()
		c := tracer.NewConn(s.since, 1, s, tap)
		req := []byte("POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}")
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{\"Volumes\":[],\"Err\":\"\"}")
		feed := func() {
			c.Feed(true, req)
			c.Feed(false, resp)
		}
		feed() // the method's counters and the buffers are made once
		assert.Zero(t, testing.AllocsPerRun(100, feed))
		assert.Equal(t, uint64(102), methods(s)["VolumeDriver.List"].Count, "AllocsPerRun runs it once more")
	}
}

// BenchmarkFeed parses a kept-alive call: with the point's tap off (no
// trace attached), and on (each call recorded, its record dropped).
func BenchmarkFeed(b *testing.B) {
	for _, traced := range []bool{false, true} {
		b.Run(map[bool]string{false: "untraced", true: "traced"}[traced], func(b *testing.B) {
			s := NewStats()
			tap := &tracer.Tap{}
			if traced {
				tap.Set(func(types.TraceRecord) {})
			}
			c := tracer.NewConn(s.since, 1, s, tap)
			req := []byte("POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}")
			resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{\"Volumes\":[],\"Err\":\"\"}")
			b.ReportAllocs()
			for b.Loop() {
				c.Feed(true, req)
				c.Feed(false, resp)
			}
		})
	}
}
