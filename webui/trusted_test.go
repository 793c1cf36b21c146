package webui

import (
	"net"
	"net/http"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startTrusted serves a Trusted Server for b, as the daemon's API does,
// here on a loopback listener: the connection is the credential.
func startTrusted(t *testing.T, b Backend) (addr string) {
	t.Helper()
	srv, err := New(Options{Backend: b, Trusted: true, Assets: fstest.MapFS{"index.html": {Data: []byte("<title>plugdbg</title>")}}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); _ = hs.Close() })
	return ln.Addr().String()
}

// TestTrustedNoTokenNoBrowser: on a trusted connection no token is asked
// and any Host is served, but a request with an Origin header, which only
// a browser's page sends, is refused, whatever it asks for.
func TestTrustedNoTokenNoBrowser(t *testing.T) {
	addr := startTrusted(t, newFakeBackend())
	hc := &http.Client{CheckRedirect: noRedirect, Timeout: 5 * time.Second}
	tests := []struct {
		name   string
		path   string
		origin string
		host   string
		status int
	}{
		{name: "page", path: "/", status: http.StatusOK},
		{name: "auth without token", path: "/auth", status: http.StatusNoContent},
		{name: "any host", path: "/auth", host: "plugdbg", status: http.StatusNoContent},
		{name: "page with an origin", path: "/", origin: "http://" + addr, status: http.StatusForbidden},
		{name: "auth with an origin", path: "/auth", origin: "http://evil.example", status: http.StatusForbidden},
		{name: "auth with a null origin", path: "/auth", origin: "null", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+tt.path, nil)
			require.NoError(t, err)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
}

func TestTrustedWebsocket(t *testing.T) {
	addr := startTrusted(t, newFakeBackend())
	tests := []struct {
		name   string
		origin string
		status int
	}{
		{name: "no origin: a relay", status: http.StatusSwitchingProtocols},
		{name: "same origin: still a browser", origin: "http://" + addr, status: http.StatusForbidden},
		{name: "foreign origin", origin: "http://evil.example", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{Subprotocol}}
			ws, resp, err := d.Dial("ws://"+addr+"/ws", h)
			require.NotNil(t, resp, "dial: %v", err)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status != http.StatusSwitchingProtocols {
				assert.ErrorIs(t, err, websocket.ErrBadHandshake)
				return
			}
			require.NoError(t, err)
			defer ws.Close()
			assert.Equal(t, Subprotocol, ws.Subprotocol())
			p := &page{t: t, ws: ws}
			p.next("hello")
			assert.Equal(t, "p1", p.next("plugins").Plugins[0].Name)
		})
	}
}

func TestNewTrustedNeedsNoTokenOrAddr(t *testing.T) {
	_, err := New(Options{Backend: newFakeBackend(), Trusted: true, Assets: fstest.MapFS{}})
	assert.NoError(t, err)
	_, err = New(Options{Backend: newFakeBackend(), Token: testToken, Assets: fstest.MapFS{}})
	assert.Error(t, err, "untrusted without an address")
}
