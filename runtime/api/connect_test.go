package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// connectServer is an API with plugin "p" enabled, whose socket nobody
// listens on: the running stand-in's socket is unlinked once the enable
// has seen it, so that each test puts its own plugin on the path.
func connectServer(t *testing.T) (*testServer, string) {
	t.Helper()
	s := testServerOn(t, apitest.ServeRunning(t, "p.sock"))
	s.create(t, "p")
	status, _, body := s.do(t, http.MethodPost, "/plugins/p/enable?timeout=10", nil)
	require.Equal(t, http.StatusOK, status, "enable: %s", body)
	sock := s.inspect(t, "p").State.Socket
	require.NotEmpty(t, sock)
	require.NoError(t, os.Remove(sock))
	return s, sock
}

// listenPlugin listens on the plugin's socket path until the test ends.
func listenPlugin(t *testing.T, sock string) net.Listener {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// connectRequest is the upgrade request of a tunnel to ref.
func connectRequest(ref string) string {
	return "POST /plugins/" + ref + "/connect HTTP/1.1\r\nHost: plugdbg\r\nConnection: Upgrade\r\nUpgrade: " + api.ConnectUpgrade + "\r\n\r\n"
}

// dialTunnel opens a tunnel to plugin ref through the API on socket, as a
// client does: the upgrade request, then the 101 read byte by byte off the
// connection, so that nothing of the plugin's stream is left in a buffer.
func dialTunnel(ctx context.Context, socket, ref string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(conn, connectRequest(ref)); err != nil {
		conn.Close()
		return nil, err
	}
	var head []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := conn.Read(b); err != nil {
			conn.Close()
			return nil, fmt.Errorf("read the upgrade answer: %w", err)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		conn.Close()
		return nil, fmt.Errorf("no upgrade: %q", head)
	}
	return conn, nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestConnectErrors: what keeps a tunnel from opening is an ordinary error
// answer with the API's status codes, never an upgrade.
func TestConnectErrors(t *testing.T) {
	s, sock := connectServer(t)
	s.create(t, "off")
	d := newDockerTargets(t)
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {api.ConnectUpgrade}}
	tests := []struct {
		name       string
		server     *testServer
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantMsg    string
	}{
		{name: "unknown plugin", path: "/plugins/nosuch/connect", header: upgrade, wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found`},
		{name: "disabled plugin", path: "/plugins/off/connect", header: upgrade, wantStatus: http.StatusConflict, wantMsg: "plugin off:latest is not enabled (plugdbg enable off:latest), so it has no socket"},
		{name: "socket refuses", path: "/plugins/p/connect", header: upgrade, wantStatus: http.StatusBadGateway, wantMsg: "connect to plugin p:latest: its socket does not answer: dial unix " + sock + ": "},
		{name: "no upgrade headers", path: "/plugins/p/connect", wantStatus: http.StatusBadRequest, wantMsg: "Upgrade: " + api.ConnectUpgrade},
		{name: "another upgrade", path: "/plugins/p/connect", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, wantStatus: http.StatusBadRequest, wantMsg: "Upgrade: " + api.ConnectUpgrade},
		{name: "a body", path: "/plugins/p/connect", header: upgrade, body: "POST /x", wantStatus: http.StatusBadRequest, wantMsg: "connect takes no request body"},
		{name: "GET", method: http.MethodGet, path: "/plugins/p/connect", header: upgrade, wantStatus: http.StatusNotFound, wantMsg: "page not found"},
		{name: "unknown dockerd plugin", server: d.testServer, path: "/plugins/docker:nosuch/connect", header: upgrade, wantStatus: http.StatusNotFound, wantMsg: "nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, method := s, http.MethodPost
			if tt.server != nil {
				srv = tt.server
			}
			if tt.method != "" {
				method = tt.method
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(method, "http://plugdbg"+tt.path, body)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := srv.http.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Upgrade"))
			assert.Contains(t, errorMessage(t, data), tt.wantMsg)
		})
	}
}

// TestConnectHTTP: an HTTP client whose connections are tunnels speaks to
// the plugin's own HTTP server as on its socket: a request body arrives
// whole, an answer streams as the plugin writes it, and one tunnel carries
// several calls (keep-alive).
func TestConnectHTTP(t *testing.T) {
	s, sock := connectServer(t)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /VolumeDriver.Create", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"Len":%d,"Head":%q}`, len(body), body[:min(len(body), 16)])
	})
	mux.HandleFunc("POST /LogDriver.ReadLogs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-json-stream")
		_, _ = io.WriteString(w, `{"Line":"first"}`+"\n")
		w.(http.Flusher).Flush()
		select { // the second line waits for the client to have read the first
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, `{"Line":"second"}`+"\n")
	})
	plugin := httptest.NewUnstartedServer(mux)
	plugin.Listener = listenPlugin(t, sock)
	plugin.Start()
	t.Cleanup(plugin.Close)

	var tunnels atomic.Int32
	pc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		tunnels.Add(1)
		return dialTunnel(ctx, s.socket, "p")
	}}}
	t.Cleanup(pc.CloseIdleConnections)
	ctx := testContext(t)

	t.Run("request with a body", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than any socket buffer
		for range 3 {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin/VolumeDriver.Create", bytes.NewReader(big))
			require.NoError(t, err)
			resp, err := pc.Do(req)
			require.NoError(t, err)
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.JSONEq(t, `{"Len":1048576,"Head":"0123456789abcdef"}`, string(data))
		}
		assert.Equal(t, int32(1), tunnels.Load(), "the calls one after another share one tunnel")
	})

	t.Run("streamed answer", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin/LogDriver.ReadLogs", strings.NewReader(`{}`))
		require.NoError(t, err)
		resp, err := pc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, `{"Line":"first"}`+"\n", line, "the first line arrives while the plugin still answers")
		close(release)
		rest, err := io.ReadAll(br)
		require.NoError(t, err)
		assert.Equal(t, `{"Line":"second"}`+"\n", string(rest))
	})
}

// TestConnectHalfClose: the end of one side's input reaches the other as
// the end of its input, while the answer still flows back.
func TestConnectHalfClose(t *testing.T) {
	s, sock := connectServer(t)
	ln := listenPlugin(t, sock)
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		in, _ := io.ReadAll(c) // to the client's half-close
		got <- string(in)
		_, _ = io.WriteString(c, "answer to "+string(in))
	}()
	ctx := testContext(t)
	conn, err := dialTunnel(ctx, s.socket, "p")
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "request")
	require.NoError(t, err)
	require.NoError(t, conn.(*net.UnixConn).CloseWrite())
	assert.Equal(t, "request", <-got, "the plugin sees the client's input end")
	out, err := io.ReadAll(conn)
	require.NoError(t, err)
	assert.Equal(t, "answer to request", string(out), "the client reads the whole answer, then the end")
}

// writeUntilClosed writes to c until a write fails, which it does once the
// peer has closed its end: a tunnel the daemon still held would take the
// writes for ever.
func writeUntilClosed(t *testing.T, c net.Conn) {
	t.Helper()
	// A bound for a failing test, not a wait: the writes fail at once
	// when the tunnel is closed.
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(20*time.Second)))
	buf := bytes.Repeat([]byte("x"), 4096)
	for {
		if _, err := c.Write(buf); err != nil {
			assert.Truef(t, isPeerGone(err), "the write fails because the peer closed, not: %v", err)
			return
		}
	}
}

func isPeerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// TestConnectClosesBothEnds: when one side goes away, the daemon closes
// the tunnel's other end as well, whichever side left first.
func TestConnectClosesBothEnds(t *testing.T) {
	t.Run("the client leaves", func(t *testing.T) {
		s, sock := connectServer(t)
		ln := listenPlugin(t, sock)
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		conn, err := dialTunnel(testContext(t), s.socket, "p")
		require.NoError(t, err)
		pc := <-accepted
		defer pc.Close()
		require.NoError(t, conn.Close())
		n, err := pc.Read(make([]byte, 1))
		assert.Equal(t, 0, n)
		assert.ErrorIs(t, err, io.EOF, "the plugin sees the end of the client's input")
		writeUntilClosed(t, pc)
	})
	t.Run("the client leaves with the answer unread", func(t *testing.T) {
		// A unix socket closed with unread data resets its peer: the
		// daemon's read of the client fails rather than ends, and the
		// plugin, which may never speak again, must still see the end.
		s, sock := connectServer(t)
		ln := listenPlugin(t, sock)
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		conn, err := dialTunnel(testContext(t), s.socket, "p")
		require.NoError(t, err)
		pc := <-accepted
		defer pc.Close()
		_, err = io.WriteString(pc, "ab")
		require.NoError(t, err)
		_, err = io.ReadFull(conn, make([]byte, 1)) // "a": "b" has arrived too
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(20*time.Second))) // a bound, not a wait
		n, err := pc.Read(make([]byte, 1))
		assert.Equal(t, 0, n)
		assert.ErrorIs(t, err, io.EOF, "the daemon closed the plugin's end")
	})
	t.Run("the plugin leaves", func(t *testing.T) {
		s, sock := connectServer(t)
		ln := listenPlugin(t, sock)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				_, _ = io.WriteString(c, "bye")
				c.Close()
			}
		}()
		conn, err := dialTunnel(testContext(t), s.socket, "p")
		require.NoError(t, err)
		defer conn.Close()
		out, err := io.ReadAll(conn)
		require.NoError(t, err)
		assert.Equal(t, "bye", string(out), "the client reads what the plugin wrote, then the end")
		writeUntilClosed(t, conn)
	})
}

// TestConnectDockerTarget: a dockerd plugin's socket, which the daemon
// knows from dockerd's plugin root, is tunnelled as plugdbg's own are.
func TestConnectDockerTarget(t *testing.T) {
	d := newDockerTargets(t)
	pc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialTunnel(ctx, d.socket, "docker:p")
	}}}
	defer pc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://plugin/VolumeDriver.Get", strings.NewReader(`{"Name":"v"}`))
	require.NoError(t, err)
	resp, err := pc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, `{"Echo":"{\"Name\":\"v\"}"}`, string(data))
}
