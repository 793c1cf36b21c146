package probe_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
)

// keepAlivePlugin is a unix socket server that reads each request and then does
// what answer says on the connection; it counts requests and connections.
type keepAlivePlugin struct {
	socket          string
	requests, conns atomic.Int64
}

func startKeepAlivePlugin(t *testing.T, answer func(c net.Conn, r *http.Request) (keep bool)) *keepAlivePlugin {
	t.Helper()
	p := &keepAlivePlugin{socket: filepath.Join(t.TempDir(), "p.sock")}
	ln, err := net.Listen("unix", p.socket)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					p.requests.Add(1)
					_, _ = io.Copy(io.Discard, r.Body)
					if !answer(c, r) {
						return
					}
				}
			}()
		}
	}()
	return p
}

// TestBenchKeepsConnections: on a plugin that keeps connections alive,
// each worker makes all its calls on one connection, sent as Do sends
// them.
func TestBenchKeepsConnections(t *testing.T) {
	var accept, host atomic.Value
	p := startKeepAlivePlugin(t, func(c net.Conn, r *http.Request) bool {
		accept.Store(r.Header.Get("Accept"))
		host.Store(r.Host)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
		return true
	})
	c := probe.New(p.socket)
	defer c.Close()
	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", []byte("{}\n"), probe.BenchOptions{Calls: 40, Concurrency: 2})
	require.NoError(t, err)
	assert.Zero(t, st.Failures, "%v", st.FirstErr)
	assert.Equal(t, int64(40), p.requests.Load())
	// A worker that starts late may find every call taken.
	assert.LessOrEqual(t, p.conns.Load(), int64(2), "at most one connection per worker")
	assert.Equal(t, probe.Accept, accept.Load())
	assert.Equal(t, "plugin.moby.localhost", host.Load())
}

// TestBenchNeverResends: a connection that ends after the request was
// written, without an answer, fails the call; it is not sent again.
func TestBenchNeverResends(t *testing.T) {
	var n atomic.Int64
	p := startKeepAlivePlugin(t, func(c net.Conn, r *http.Request) bool {
		if n.Add(1) == 2 {
			return false // the second call: no answer at all
		}
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
		return true
	})
	c := probe.New(p.socket)
	defer c.Close()
	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", []byte("{}\n"), probe.BenchOptions{Calls: 3})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Failures)
	var te *probe.TransportError
	assert.ErrorAs(t, st.FirstErr, &te)
	assert.Equal(t, int64(3), p.requests.Load(), "3 calls, each sent once")
	assert.Len(t, st.Latencies, 2)
}
