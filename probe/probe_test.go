package probe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
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
