package uirelay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/uiauth"
	"github.com/plugdbg/plugdbg/webui"
)

const testToken = "0123456789abcdef"

// onePlugin is the UI's view of a daemon with one plugin: enough for the
// page's first messages, which show that a websocket went through.
type onePlugin struct{}

func (onePlugin) List() []types.Inspect {
	p, _ := onePlugin{}.Inspect("p1")
	return []types.Inspect{p}
}

func (onePlugin) Inspect(string) (types.Inspect, error) {
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

// daemonSide is the daemon's API (the real api.Server, with the real
// trusted webui.Server under /ui unless noUI) on a unix socket. It keeps
// the requests it got.
type daemonSide struct {
	sock string
	mu   sync.Mutex
	got  []*http.Request
}

// socketPath is a path for a unix socket, short whatever the test's name.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdui")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "api.sock")
}

// startDaemonSide serves the API on sock until the test ends.
func startDaemonSide(t *testing.T, sock string, noUI bool) *daemonSide {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	a := api.New(nil, nil, log)
	if !noUI {
		ui, err := webui.New(webui.Options{Backend: onePlugin{}, Trusted: true, Log: log, Assets: fstest.MapFS{
			"index.html": {Data: []byte("<title>plugdbg</title>")},
			"app.js":     {Data: []byte("console.log(1)")},
		}})
		require.NoError(t, err)
		t.Cleanup(ui.Close)
		a.WithUI(ui)
	}
	d := &daemonSide{sock: sock}
	ln, err := api.Listen(sock)
	require.NoError(t, err)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.got = append(d.got, r.Clone(context.Background()))
		d.mu.Unlock()
		a.ServeHTTP(w, r)
	})}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return d
}

// last is the last request the daemon got, nil if none.
func (d *daemonSide) last() *http.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.got) == 0 {
		return nil
	}
	return d.got[len(d.got)-1]
}

func (d *daemonSide) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

// syncBuffer is a bytes.Buffer safe for the relay's log and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRelay serves a relay to the daemon at sock, through the client's
// own transport, on a loopback port, until the test ends.
func startRelay(t *testing.T, sock string) (addr string, log *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := client.New("unix://" + sock)
	log = &syncBuffer{}
	rl, err := New(Options{Addr: ln.Addr().String(), Transport: c.Transport(), Daemon: c.Host, Token: testToken, Log: log})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = Serve(ctx, ln, rl); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), log
}

// get sends a GET (or method) to the relay with the headers and returns
// the status and body.
func get(t *testing.T, method, u string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	for k, v := range header {
		if k == "Host" {
			req.Host = v[0]
			continue
		}
		req.Header[k] = v
	}
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestRelayRules: the local address applies the daemon's own UI rules
// (Host, token on /auth, methods), maps /x to the daemon's /ui/x, and
// sends the daemon neither the local token nor what the browser attaches
// on its own.
func TestRelayRules(t *testing.T) {
	d := startDaemonSide(t, socketPath(t), false)
	addr, _ := startRelay(t, d.sock)
	_, port, _ := net.SplitHostPort(addr)
	base := "http://" + addr
	tests := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		status    int
		body      string // what the answer contains
		daemonGot string // the path (and query) the daemon got; "": nothing reached it
	}{
		{name: "page without token", path: "/", status: http.StatusOK, body: "<title>plugdbg</title>", daemonGot: "/ui/"},
		{name: "page with the URL's token: the daemon does not get it", path: "/?token=" + testToken + "&x=1", status: http.StatusOK, daemonGot: "/ui/?x=1"},
		{name: "asset", path: "/app.js", status: http.StatusOK, body: "console.log(1)", daemonGot: "/ui/app.js"},
		{name: "localhost alias", path: "/", header: http.Header{"Host": {"localhost:" + port}}, status: http.StatusOK, daemonGot: "/ui/"},
		{name: "foreign Host (DNS rebinding)", path: "/", header: http.Header{"Host": {"evil.example:" + port}}, status: http.StatusMisdirectedRequest},
		{name: "foreign Host with the token", path: "/auth", header: http.Header{"Host": {"evil.example:" + port}, "X-Plugdbg-Token": {testToken}}, status: http.StatusMisdirectedRequest},
		{name: "a climb out of /ui", path: "/../_ping", status: http.StatusBadRequest},
		{name: "a POST", method: http.MethodPost, path: "/auth", header: http.Header{"X-Plugdbg-Token": {testToken}}, status: http.StatusMethodNotAllowed},
		{name: "auth without token", path: "/auth", status: http.StatusUnauthorized, body: "plugdbg ui printed"},
		{name: "auth, query token only", path: "/auth?token=" + testToken, status: http.StatusUnauthorized},
		{name: "auth, cookie only", path: "/auth", header: http.Header{"Cookie": {"plugdbg_token=" + testToken}}, status: http.StatusUnauthorized},
		{name: "auth, wrong token", path: "/auth", header: http.Header{"X-Plugdbg-Token": {testToken + "0"}}, status: http.StatusUnauthorized},
		{name: "auth, the daemon's kind of token is not ours", path: "/auth", header: http.Header{"Authorization": {"Bearer other"}}, status: http.StatusUnauthorized},
		{name: "auth, header", path: "/auth", header: http.Header{"X-Plugdbg-Token": {testToken}}, status: http.StatusNoContent, daemonGot: "/ui/auth"},
		{name: "auth, bearer", path: "/auth", header: http.Header{"Authorization": {"Bearer " + testToken}}, status: http.StatusNoContent, daemonGot: "/ui/auth"},
		{name: "websocket without token", path: "/ws", header: http.Header{"Origin": {base}}, status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.count()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			status, body := get(t, method, base+tt.path, tt.header)
			assert.Equal(t, tt.status, status, "%s", body)
			assert.Contains(t, body, tt.body)
			if tt.daemonGot == "" {
				assert.Equal(t, before, d.count(), "the daemon got the request")
				return
			}
			require.Equal(t, before+1, d.count())
			assert.Equal(t, tt.daemonGot, d.last().URL.RequestURI())
		})
	}

	t.Run("stripped", func(t *testing.T) {
		status, _ := get(t, http.MethodGet, base+"/auth", http.Header{
			"X-Plugdbg-Token": {testToken},
			"Origin":          {base},
			"Cookie":          {"plugdbg_token=" + testToken + "; other=1"},
			"Referer":         {base + "/?token=" + testToken},
			"X-Forwarded-For": {"192.0.2.1"},
			"X-Other":         {"1"},
			"Accept":          {"*/*"},
		})
		require.Equal(t, http.StatusNoContent, status)
		got := d.last()
		for _, h := range []string{"X-Plugdbg-Token", "Authorization", "Origin", "Cookie", "Referer", "X-Forwarded-For", "Forwarded", "X-Other"} {
			assert.Empty(t, got.Header.Values(h), "header %s reached the daemon", h)
		}
		assert.Equal(t, "*/*", got.Header.Get("Accept"), "what serving needs is relayed")
		assert.Equal(t, "plugdbg", got.Host, "not the local address")
		for k, v := range got.Header {
			assert.NotContains(t, strings.Join(v, " "), testToken, "header %s", k)
		}
	})
}

// dialRelay opens the page's websocket on the relay, the way the page
// does: the token in a subprotocol.
func dialRelay(addr, origin, token string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{uiauth.Subprotocol}}
	if token != "" {
		d.Subprotocols = append(d.Subprotocols, uiauth.TokenProtocolPrefix+token)
	}
	return d.Dial("ws://"+addr+"/ws", h)
}

// readPlugins reads the page's messages until the plugins list.
func readPlugins(t *testing.T, ws *websocket.Conn) []string {
	t.Helper()
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
			var names []string
			for _, p := range m.Plugins {
				names = append(names, p.Name)
			}
			return names
		}
	}
}

func TestRelayWebsocket(t *testing.T) {
	d := startDaemonSide(t, socketPath(t), false)
	addr, _ := startRelay(t, d.sock)
	_, port, _ := net.SplitHostPort(addr)
	same := "http://" + addr
	tests := []struct {
		name   string
		origin string
		token  string
		status int
	}{
		{name: "same origin, token", origin: same, token: testToken, status: http.StatusSwitchingProtocols},
		{name: "localhost alias", origin: "http://localhost:" + port, token: testToken, status: http.StatusSwitchingProtocols},
		{name: "no token", origin: same, status: http.StatusUnauthorized},
		{name: "wrong token", origin: same, token: "x" + testToken, status: http.StatusUnauthorized},
		{name: "foreign origin", origin: "http://evil.example", token: testToken, status: http.StatusForbidden},
		{name: "same host, other port", origin: "http://127.0.0.1:1", token: testToken, status: http.StatusForbidden},
		{name: "null origin", origin: "null", token: testToken, status: http.StatusForbidden},
		{name: "no origin", token: testToken, status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.count()
			ws, resp, err := dialRelay(addr, tt.origin, tt.token)
			require.NotNil(t, resp, "dial: %v", err)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status != http.StatusSwitchingProtocols {
				assert.ErrorIs(t, err, websocket.ErrBadHandshake)
				assert.Equal(t, before, d.count(), "the daemon got the request")
				return
			}
			require.NoError(t, err)
			defer ws.Close()
			assert.Equal(t, uiauth.Subprotocol, ws.Subprotocol(), "a browser fails a socket whose answer names no offered protocol")
			assert.Equal(t, []string{"p1:latest"}, readPlugins(t, ws), "the daemon's page messages come through")
			got := d.last()
			assert.Equal(t, "/ui/ws", got.URL.Path)
			assert.Equal(t, []string{uiauth.Subprotocol}, uiauth.Subprotocols(got.Header), "the token's subprotocol stays here")
			assert.Empty(t, got.Header.Get("Origin"))
		})
	}
}

// TestRelayDaemonDown: a daemon that cannot be reached is a 502 that says
// so, on the page and on /auth (which the page asks when its socket
// fails), and the relay says it once; once the daemon is there, the relay
// serves again.
func TestRelayDaemonDown(t *testing.T) {
	sock := socketPath(t)
	addr, log := startRelay(t, sock)
	base := "http://" + addr
	status, body := get(t, http.MethodGet, base+"/", nil)
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Contains(t, body, "the daemon at unix://"+sock+" is unreachable")
	status, body = get(t, http.MethodGet, base+"/auth", http.Header{"X-Plugdbg-Token": {testToken}})
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Contains(t, body, "unreachable")
	status, _ = get(t, http.MethodGet, base+"/auth", nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the token is checked first")
	assert.Equal(t, 1, strings.Count(log.String(), "unreachable"), "said once: %s", log)

	startDaemonSide(t, sock, false)
	status, _ = get(t, http.MethodGet, base+"/auth", http.Header{"X-Plugdbg-Token": {testToken}})
	assert.Equal(t, http.StatusNoContent, status)
	assert.Contains(t, log.String(), "answers again")
}

// TestRelayDaemonWithoutUI: an API without /ui (an older daemon) is told
// apart from a missing file.
func TestRelayDaemonWithoutUI(t *testing.T) {
	d := startDaemonSide(t, socketPath(t), true)
	addr, _ := startRelay(t, d.sock)
	status, body := get(t, http.MethodGet, "http://"+addr+"/", nil)
	assert.Equal(t, http.StatusBadGateway, status)
	assert.Contains(t, body, "serves no web UI on its API")

	d = startDaemonSide(t, socketPath(t), false)
	addr, _ = startRelay(t, d.sock)
	status, _ = get(t, http.MethodGet, "http://"+addr+"/missing.js", nil)
	assert.Equal(t, http.StatusNotFound, status, "a file the UI does not have")
}

func TestCheckAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:7777", "127.0.0.2:0", "[::1]:7777", "localhost:7777"} {
		assert.NoError(t, CheckAddr(ok), ok)
	}
	for _, bad := range []string{"0.0.0.0:7777", ":7777", "[::]:7777", "192.0.2.1:7777", "example.com:7777"} {
		err := CheckAddr(bad)
		assert.ErrorIs(t, err, ErrNotLoopback, bad)
		assert.ErrorContains(t, err, "ssh -L", bad)
	}
	assert.Error(t, CheckAddr("127.0.0.1"), "no port")
	_, err := New(Options{Addr: "0.0.0.0:7777", Transport: http.DefaultTransport, Token: testToken})
	assert.ErrorIs(t, err, ErrNotLoopback)
}

// TestRun: Run prints the URL, serves it, and on the context's end
// returns, closing the websockets it relays.
func TestRun(t *testing.T) {
	d := startDaemonSide(t, socketPath(t), false)
	c := client.New("unix://" + d.sock)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Options{Addr: "127.0.0.1:0", Transport: c.Transport(), Daemon: c.Host}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.Regexp(t, `^plugdbg ui: http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64} \(daemon: unix://.*\)\n$`, line)
	u, err := url.Parse(strings.Fields(line)[2])
	require.NoError(t, err)
	token := u.Query().Get("token")

	ws, _, err := dialRelay(u.Host, "http://"+u.Host, token)
	require.NoError(t, err)
	defer ws.Close()
	assert.Equal(t, []string{"p1:latest"}, readPlugins(t, ws))

	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "Run did not return after its context ended")
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne net.Error
			assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the relayed websocket is closed, not left open: %v", err)
			break
		}
	}
	_, err = net.Dial("tcp", u.Host)
	assert.Error(t, err, "nothing listens any more")
}

// TestRunRefuses: a non-loopback address and an unreachable daemon are
// errors before anything is printed or served.
func TestRunRefuses(t *testing.T) {
	c := client.New("unix://" + socketPath(t))
	var out bytes.Buffer
	err := Run(context.Background(), Options{Addr: "0.0.0.0:0", Transport: c.Transport(), Daemon: c.Host}, &out)
	assert.ErrorIs(t, err, ErrNotLoopback)
	err = Run(context.Background(), Options{Addr: "127.0.0.1:0", Transport: c.Transport(), Daemon: c.Host}, &out)
	assert.ErrorContains(t, err, "the daemon at "+c.Host+" is unreachable")
	assert.Empty(t, out.String())

	d := startDaemonSide(t, socketPath(t), true)
	c = client.New("unix://" + d.sock)
	err = Run(context.Background(), Options{Addr: "127.0.0.1:0", Transport: c.Transport(), Daemon: c.Host}, &out)
	assert.ErrorContains(t, err, "serves no web UI")
	assert.Empty(t, out.String())
}

func TestRunAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	d := startDaemonSide(t, socketPath(t), false)
	c := client.New("unix://" + d.sock)
	err = Run(context.Background(), Options{Addr: ln.Addr().String(), Transport: c.Transport(), Daemon: c.Host}, io.Discard)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.ErrorContains(t, err, "another --addr")
}
