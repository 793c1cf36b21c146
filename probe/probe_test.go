package probe_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
)

// request is what the fake plugin saw.
type request struct {
	Method, Path, Accept, ContentType string
	HasContentType                    bool
	Body                              string
	ContentLength                     int64
	TransferEncoding                  []string
}

// fakePlugin serves handler on a unix socket in a temp dir and records
// every request.
type fakePlugin struct {
	socket string
	mu     sync.Mutex
	reqs   []request
}

func newFakePlugin(t *testing.T, handler http.HandlerFunc) *fakePlugin {
	t.Helper()
	f := &fakePlugin{socket: filepath.Join(t.TempDir(), "p.sock")}
	ln, err := net.Listen("unix", f.socket)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ct, hasCT := r.Header["Content-Type"]
		req := request{
			Method: r.Method, Path: r.URL.Path, Accept: r.Header.Get("Accept"),
			HasContentType: hasCT, Body: string(body),
			ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		}
		if hasCT {
			req.ContentType = ct[0]
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		handler(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fakePlugin) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCallRequest(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		args     any
		wantPath string
		wantBody string
	}{
		{name: "nil args: no body", method: "Plugin.Activate", args: nil, wantPath: "/Plugin.Activate", wantBody: ""},
		{
			name: "struct args: JSON with a trailing newline", method: "VolumeDriver.Create",
			args:     struct{ Name string }{Name: "v1"},
			wantPath: "/VolumeDriver.Create", wantBody: "{\"Name\":\"v1\"}\n",
		},
		{
			name: "empty object", method: "VolumeDriver.List", args: struct{}{},
			wantPath: "/VolumeDriver.List", wantBody: "{}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePlugin(t, reply(http.StatusOK, `{}`))
			c := probe.New(f.socket)
			defer c.Close()
			require.NoError(t, c.Call(ctx(t), tt.method, tt.args, nil))

			reqs := f.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, tt.wantPath, r.Path)
			assert.Equal(t, "application/vnd.docker.plugins.v1.2+json", r.Accept)
			assert.Equal(t, probe.Accept, r.Accept)
			assert.Equal(t, tt.wantBody, r.Body)
			assert.Empty(t, r.TransferEncoding, "dockerd sends a Content-Length, not chunks")
			assert.Equal(t, int64(len(tt.wantBody)), r.ContentLength)
			if tt.args == nil {
				assert.False(t, r.HasContentType, "no Content-Type without a body, got %q", r.ContentType)
			}
		})
	}
}

func TestActivate(t *testing.T) {
	f := newFakePlugin(t, reply(http.StatusOK, `{"Implements": ["VolumeDriver", "NetworkDriver"]}`))
	c := probe.New(f.socket)
	defer c.Close()
	m, err := c.Activate(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"VolumeDriver", "NetworkDriver"}, m.Implements)
	reqs := f.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/Plugin.Activate", reqs[0].Path)
	assert.Empty(t, reqs[0].Body)
}

func TestCallDecodes(t *testing.T) {
	f := newFakePlugin(t, reply(http.StatusOK, `{"Volume":{"Name":"v1","Mountpoint":"/data/v1"},"Err":""}`))
	c := probe.New(f.socket)
	defer c.Close()
	var ret struct {
		Volume struct{ Name, Mountpoint string }
		Err    string
	}
	require.NoError(t, c.Call(ctx(t), "VolumeDriver.Get", map[string]string{"Name": "v1"}, &ret))
	assert.Equal(t, "v1", ret.Volume.Name)
	assert.Equal(t, "/data/v1", ret.Volume.Mountpoint)
}

func TestCallErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantNotFound bool
		wantStatus   int    // 0: not a StatusError
		wantMsg      string // the StatusError's Msg
		wantText     []string
	}{
		{
			name: "404 is not found", status: http.StatusNotFound, body: "404 page not found\n",
			wantNotFound: true, wantStatus: 404, wantMsg: "404 page not found",
			wantText: []string{"VolumeDriver.Capabilities", "404"},
		},
		{
			name: "500 with an Err field", status: http.StatusInternalServerError, body: `{"Err":"boom"}`,
			wantStatus: 500, wantMsg: "boom", wantText: []string{"VolumeDriver.Capabilities", "boom", "500"},
		},
		{
			name: "500 with a plain body", status: http.StatusInternalServerError, body: "plain failure\n",
			wantStatus: 500, wantMsg: "plain failure", wantText: []string{"plain failure"},
		},
		{
			name: "500 with an empty Err field", status: http.StatusInternalServerError, body: `{"Err":""}`,
			wantStatus: 500, wantMsg: `{"Err":""}`,
		},
		{
			name: "undecodable 200", status: http.StatusOK, body: "not json",
			wantText: []string{"VolumeDriver.Capabilities", "decode", "not json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePlugin(t, reply(tt.status, tt.body))
			c := probe.New(f.socket)
			defer c.Close()
			var ret struct{ Capabilities struct{ Scope string } }
			err := c.Call(ctx(t), "VolumeDriver.Capabilities", nil, &ret)
			require.Error(t, err)
			assert.Equal(t, tt.wantNotFound, probe.IsNotFound(err))

			var se *probe.StatusError
			if tt.wantStatus == 0 {
				assert.False(t, errors.As(err, &se), "got a StatusError for a 200: %v", err)
			} else {
				require.True(t, errors.As(err, &se), "want a StatusError, got %T: %v", err, err)
				assert.Equal(t, tt.wantStatus, se.Status)
				assert.Equal(t, tt.wantMsg, se.Msg)
				assert.Equal(t, "VolumeDriver.Capabilities", se.Method)
			}
			for _, s := range tt.wantText {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "plain error", err: errors.New("404"), want: false},
		{name: "404", err: &probe.StatusError{Status: 404}, want: true},
		{name: "wrapped 404", err: errors.Join(errors.New("x"), &probe.StatusError{Status: 404}), want: true},
		{name: "500", err: &probe.StatusError{Status: 500}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, probe.IsNotFound(tt.err))
		})
	}
}

func TestCallNoSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	c := probe.New(sock)
	defer c.Close()
	err := c.Call(ctx(t), "Plugin.Activate", nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Plugin.Activate")
	assert.Contains(t, err.Error(), sock)
	assert.False(t, probe.IsNotFound(err))
}

func TestCallEncodeError(t *testing.T) {
	f := newFakePlugin(t, reply(http.StatusOK, `{}`))
	c := probe.New(f.socket)
	defer c.Close()
	err := c.Call(ctx(t), "VolumeDriver.Create", func() {}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "VolumeDriver.Create")
	assert.Empty(t, f.requests(), "nothing is sent when the arguments do not encode")
}

func TestCallContextCanceled(t *testing.T) {
	release := make(chan struct{})
	f := newFakePlugin(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := probe.New(f.socket)
	defer c.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Call(cctx, "Plugin.Activate", nil, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// rawPlugin answers every connection on a unix socket with answer, byte for
// byte, after reading one request, and records the bytes of each request.
type rawPlugin struct {
	socket string
	mu     sync.Mutex
	sent   [][]byte
}

func newRawPlugin(t *testing.T, answer string, hang bool) *rawPlugin {
	t.Helper()
	p := &rawPlugin{socket: filepath.Join(t.TempDir(), "raw.sock")}
	ln, err := net.Listen("unix", p.socket)
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var seen bytes.Buffer
				req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(conn, &seen)))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				p.mu.Lock()
				p.sent = append(p.sent, seen.Bytes())
				p.mu.Unlock()
				if hang {
					<-done
					return
				}
				_, _ = io.WriteString(conn, answer)
			}()
		}
	}()
	return p
}

func (p *rawPlugin) requests() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.sent...)
}

// TestOnceMatchesDo: the one-connection path of a single probe sends the
// same bytes as the keep-alive client and reads every kind of answer, good
// or broken, to the same result.
func TestOnceMatchesDo(t *testing.T) {
	huge := strings.Repeat("x", 64)
	tests := []struct {
		name    string
		answer  string
		hang    bool
		body    []byte
		wantErr string // "" : a Response
	}{
		{name: "JSON, no body", answer: "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: 24\r\n\r\n{\"Volumes\":[],\"Err\":\"\"}\n"},
		{name: "JSON, a body", body: []byte("{}\n"), answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n"},
		{name: "no length, closed", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"Err\":\"\"}"},
		{name: "404 HTML", answer: "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>404</h1>\n"},
		{name: "not HTTP", answer: "SSH-2.0-OpenSSH_9.2\r\n", wantErr: "malformed HTTP"},
		{name: "cut short", answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Err\"", wantErr: "read answer: unexpected EOF"},
		{name: "too large", answer: "HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" + huge, wantErr: "answer is larger than 32 bytes"},
		{name: "no answer before the deadline", hang: true, wantErr: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRawPlugin(t, tt.answer, tt.hang)
			c := probe.New(p.socket)
			defer c.Close()
			c.MaxResponse = 32
			call := func(do func(context.Context, string, []byte) (*probe.Response, error)) (*probe.Response, error) {
				cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				return do(cctx, "VolumeDriver.List", tt.body)
			}
			viaDo, errDo := call(c.Do)
			once, errOnce := call(c.Once)
			if tt.wantErr != "" {
				require.Error(t, errDo)
				require.Error(t, errOnce)
				assert.Contains(t, errDo.Error(), tt.wantErr)
				assert.Contains(t, errOnce.Error(), tt.wantErr)
				var te *probe.TransportError
				assert.ErrorAs(t, errOnce, &te)
				if tt.hang {
					assert.ErrorIs(t, errOnce, context.DeadlineExceeded)
				}
			} else {
				require.NoError(t, errDo)
				require.NoError(t, errOnce)
				assert.Equal(t, viaDo.Status, once.Status)
				assert.Equal(t, viaDo.StatusText, once.StatusText)
				assert.Equal(t, string(viaDo.Body), string(once.Body))
				assert.Equal(t, viaDo.Header, once.Header)
				assert.Equal(t, viaDo.RequestHead(), once.RequestHead())
			}
			sent := p.requests()
			if strings.HasPrefix(tt.name, "not HTTP") {
				return // the Transport retries a request whose connection broke before any answer
			}
			require.Len(t, sent, 2)
			assert.Equal(t, string(sent[0]), string(sent[1]), "the same request bytes on the wire")
		})
	}
}

func TestOnceNoSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	c := probe.New(sock)
	defer c.Close()
	_, err := c.Once(ctx(t), "Plugin.Activate", nil)
	var te *probe.TransportError
	require.ErrorAs(t, err, &te)
	assert.Contains(t, err.Error(), "Plugin.Activate: dial unix "+sock)
}

// TestTargetDial: a Target with Dial has every connection from it, for
// keep-alive calls, a single call (Once) and a concurrent Bench alike, and
// the requests are those of a unix socket (dockerd's Host header, no gzip).
func TestTargetDial(t *testing.T) {
	f := newFakePlugin(t, reply(http.StatusOK, `{"Volumes":[],"Err":""}`))
	var dials atomic.Int32
	target := probe.Target{Network: "unix", Addr: "/far/away/p.sock", Via: "ssh://host", Dial: func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "unix", f.socket)
	}}
	assert.Equal(t, "unix:///far/away/p.sock via ssh://host", target.String())
	c := probe.NewClient(target)
	defer c.Close()

	r, err := c.Once(ctx(t), "VolumeDriver.List", []byte("{}\n"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, int32(1), dials.Load(), "Once dials through Dial")
	assert.Equal(t, "plugin.moby.localhost", r.RequestHead().Get("Host"))
	assert.Empty(t, r.RequestHead().Get("Accept-Encoding"), "no gzip, as on a unix socket")

	for range 3 {
		_, err := c.Do(ctx(t), "VolumeDriver.List", nil)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), dials.Load(), "Do keeps its connection from Dial alive")

	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", nil, probe.BenchOptions{Calls: 40, Concurrency: 4})
	require.NoError(t, err)
	assert.Zero(t, st.Failures)
	// About one per worker; a worker may dial while another's connection
	// is on its way back to the pool, so the bound is loose.
	assert.Less(t, dials.Load(), int32(2+20), "the workers keep their connections from Dial alive")
	assert.Len(t, f.requests(), 1+3+40)
}
