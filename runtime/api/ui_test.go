package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/moby/moby/api/types/events"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/webui"
)

// onePlugin is the UI's view of a daemon with one plugin and nothing
// else: what the routing needs, the UI's own behaviour is webui's tests'.
type onePlugin struct{}

func (onePlugin) List() []types.Inspect {
	p, _ := onePlugin{}.Inspect("p1")
	return []types.Inspect{p}
}

func (onePlugin) Inspect(ref string) (types.Inspect, error) {
	var p types.Inspect
	p.ID, p.Name = "id1", "p1:latest"
	return p, nil
}
func (onePlugin) Enable(context.Context, string, time.Duration) error { return nil }
func (onePlugin) Disable(context.Context, string, bool) error         { return nil }
func (onePlugin) Logs(context.Context, string, types.LogOptions, func(types.LogLine) error) error {
	return nil
}
func (onePlugin) SubscribeSince(time.Time) ([]events.Message, <-chan events.Message, func()) {
	return nil, make(chan events.Message), func() {}
}
func (onePlugin) Exec(string, types.ExecConfig) (execproto.Process, error) {
	return nil, errors.New("no exec")
}

// serveAPI serves s on a unix socket until the test ends.
func serveAPI(t *testing.T, s http.Handler) *testServer {
	t.Helper()
	sock := filepath.Join(apitest.ShortTempDir(t), "api.sock")
	ln, err := api.Listen(sock)
	require.NoError(t, err)
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return testServerOn(t, sock)
}

// TestUIOnTheAPI: the API serves the UI under /ui, with no token (the
// socket is the credential), and refuses a browser's request there.
func TestUIOnTheAPI(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	ui, err := webui.New(webui.Options{Backend: onePlugin{}, Trusted: true, Log: log, Assets: fstest.MapFS{
		"index.html": {Data: []byte("<title>plugdbg</title>")},
		"app.js":     {Data: []byte("console.log(1)")},
	}})
	require.NoError(t, err)
	t.Cleanup(ui.Close)
	s := serveAPI(t, api.New(nil, nil, log).WithUI(ui))

	tests := []struct {
		name   string
		path   string
		origin string
		status int
		body   string
	}{
		{name: "page", path: "/ui/", status: http.StatusOK, body: "<title>plugdbg</title>"},
		{name: "asset", path: "/ui/app.js", status: http.StatusOK, body: "console.log(1)"},
		{name: "auth, no token", path: "/ui/auth", status: http.StatusNoContent},
		{name: "a browser's page", path: "/ui/", origin: "http://127.0.0.1:7777", status: http.StatusForbidden},
		{name: "a browser's auth", path: "/ui/auth", origin: "http://evil.example", status: http.StatusForbidden},
		{name: "not under the prefix", path: "/uix", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://plugdbg"+tt.path, nil)
			require.NoError(t, err)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := s.http.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode, "%s", data)
			if tt.body != "" {
				assert.Equal(t, tt.body, string(data))
			}
		})
	}

	// The websocket, over the socket: accepted without an Origin, refused
	// with one.
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", s.socket)
		},
		HandshakeTimeout: 5 * time.Second,
		Subprotocols:     []string{webui.Subprotocol},
	}
	_, resp, err := d.Dial("ws://plugdbg/ui/ws", http.Header{"Origin": {"http://plugdbg"}})
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a browser's websocket")
	ws, _, err := d.Dial("ws://plugdbg/ui/ws", nil)
	require.NoError(t, err)
	defer ws.Close()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m struct {
			Type    string `json:"type"`
			Plugins []struct {
				Name string `json:"name"`
			} `json:"plugins"`
		}
		require.NoError(t, ws.ReadJSON(&m))
		if m.Type == "plugins" {
			require.Len(t, m.Plugins, 1)
			assert.Equal(t, "p1:latest", m.Plugins[0].Name)
			break
		}
	}
}

// TestNoUIOnTheAPI: without WithUI, /ui is the API's 404, which plugdbg
// ui tells from the UI's own (it is JSON).
func TestNoUIOnTheAPI(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := serveAPI(t, api.New(nil, nil, log))
	status, h, body := s.do(t, http.MethodGet, "/ui/auth", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	var e struct{ Message string }
	require.NoError(t, json.Unmarshal(body, &e))
	assert.Contains(t, e.Message, "no web UI")
}
