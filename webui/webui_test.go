package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// fakeBackend is a manager with one plugin, "p1", whose log is an
// in-memory list that tests append to; Logs honours Since, Until, Tail and
// Follow as the manager does.
type fakeBackend struct {
	mu      sync.Mutex
	lines   []types.LogLine
	changed chan struct{} // closed and replaced on each append
	events  chan events.Message
	// followEnded gets a value each time a follow returns: its context
	// ended (the page lagged, unsubscribed or went) or send failed.
	followEnded chan struct{}
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{changed: make(chan struct{}), events: make(chan events.Message, 16), followEnded: make(chan struct{}, 16)}
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).UnixNano()

// write appends n lines of size bytes (at least the "line N" text).
func (f *fakeBackend) write(n, size int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		seq := uint64(len(f.lines) + 1)
		text := fmt.Sprintf("line %d", seq)
		if len(text) < size {
			text += strings.Repeat("x", size-len(text))
		}
		f.lines = append(f.lines, types.LogLine{Plugin: "id1", Name: "p1", Seq: seq, Time: t0 + int64(seq)*1000, Stream: "stdout", Line: text})
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeBackend) List() []types.Inspect {
	p, _ := f.Inspect("p1")
	return []types.Inspect{p}
}

func (f *fakeBackend) Inspect(ref string) (types.Inspect, error) {
	if ref != "p1" && ref != "id1" {
		return types.Inspect{}, errors.New("plugin not found")
	}
	var p types.Inspect
	p.ID, p.Name, p.Enabled = "id1", "p1", true
	p.State.Status = types.StatusRunning
	return p, nil
}

func (f *fakeBackend) Enable(context.Context, string, time.Duration) error { return nil }
func (f *fakeBackend) Disable(context.Context, string, bool) error         { return nil }
func (f *fakeBackend) Exec(string, types.ExecConfig) (execproto.Process, error) {
	return nil, errors.New("no exec here")
}

func (f *fakeBackend) SubscribeSince(time.Time) ([]events.Message, <-chan events.Message, func()) {
	return nil, f.events, func() {}
}

func (f *fakeBackend) Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error {
	f.mu.Lock()
	var hist []types.LogLine
	for _, l := range f.lines {
		if (o.Since.IsZero() || l.Time >= o.Since.UnixNano()) && (o.Until.IsZero() || l.Time < o.Until.UnixNano()) &&
			(o.Grep == nil || o.Grep.MatchString(l.Line)) {
			hist = append(hist, l)
		}
	}
	next := len(f.lines)
	changed := f.changed
	f.mu.Unlock()
	if o.Started != nil {
		o.Started() // as the manager does: lines written from now on are followed
	}
	if o.Follow {
		defer func() {
			select {
			case f.followEnded <- struct{}{}:
			default:
			}
		}()
	}
	if o.Tail > 0 && len(hist) > o.Tail {
		hist = hist[len(hist)-o.Tail:]
	} else if o.Tail < 0 {
		hist = nil
	}
	for _, l := range hist {
		if err := send(l); err != nil {
			return err
		}
	}
	for o.Follow {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		f.mu.Lock()
		more := f.lines[next:]
		next, changed = len(f.lines), f.changed
		f.mu.Unlock()
		for _, l := range more {
			if o.Grep != nil && !o.Grep.MatchString(l.Line) {
				continue
			}
			if err := send(l); err != nil {
				return err
			}
		}
	}
	return nil
}

const testToken = "0123456789abcdef"

// startServer serves a Server for b on a real loopback listener.
func startServer(t *testing.T, b Backend) (srv *Server, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = ln.Addr().String()
	srv, err = New(Options{Backend: b, Token: testToken, Addr: addr, Assets: fstest.MapFS{
		"index.html": {Data: []byte("<title>plugdbg</title>")},
		"app.js":     {Data: []byte("console.log(1)")},
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = Serve(ctx, ln, srv); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv, addr
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// TestTokenRequired: the page and its assets are public (they hold no
// secret); /ws and /auth need the token presented explicitly. A cookie
// never authorises, since a browser sends a 127.0.0.1 cookie to every
// port of the address; an old one is cleared.
func TestTokenRequired(t *testing.T) {
	_, addr := startServer(t, newFakeBackend())
	base := "http://" + addr
	hc := &http.Client{CheckRedirect: noRedirect, Timeout: 5 * time.Second}
	tests := []struct {
		name   string
		path   string
		header map[string]string
		cookie string
		status int
	}{
		{name: "page without token", path: "/", status: http.StatusOK},
		{name: "asset without token", path: "/app.js", status: http.StatusOK},
		{name: "page with the query token: no redirect, no cookie", path: "/?token=" + testToken, status: http.StatusOK},
		{name: "auth without token", path: "/auth", status: http.StatusUnauthorized},
		{name: "websocket without token", path: "/ws", status: http.StatusUnauthorized},
		{name: "auth, cookie only", path: "/auth", cookie: testToken, status: http.StatusUnauthorized},
		{name: "auth, query token", path: "/auth?token=" + testToken, status: http.StatusUnauthorized},
		{name: "auth, wrong header", path: "/auth", header: map[string]string{"X-Plugdbg-Token": testToken + "0"}, status: http.StatusUnauthorized},
		{name: "auth, header prefix", path: "/auth", header: map[string]string{"X-Plugdbg-Token": testToken[:8]}, status: http.StatusUnauthorized},
		{name: "auth, header", path: "/auth", header: map[string]string{"X-Plugdbg-Token": testToken}, status: http.StatusNoContent},
		{name: "auth, bearer", path: "/auth", header: map[string]string{"Authorization": "Bearer " + testToken}, status: http.StatusNoContent},
		{name: "auth, header and an old cookie", path: "/auth", cookie: testToken, header: map[string]string{"X-Plugdbg-Token": testToken}, status: http.StatusNoContent},
		{name: "foreign Host (DNS rebinding)", path: "/", header: map[string]string{"Host": "evil.example:80"}, status: http.StatusMisdirectedRequest},
		{name: "foreign Host with the token", path: "/auth", header: map[string]string{"Host": "evil.example:80", "X-Plugdbg-Token": testToken}, status: http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: oldCookie, Value: tt.cookie})
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			var cookies []string
			for _, c := range resp.Cookies() {
				if c.Value != "" || c.MaxAge >= 0 {
					cookies = append(cookies, c.String())
				}
			}
			assert.Empty(t, cookies, "the server sets no cookie")
		})
	}
}

func TestOldCookieCleared(t *testing.T) {
	_, addr := startServer(t, newFakeBackend())
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: oldCookie, Value: testToken})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, resp.Cookies(), 1)
	c := resp.Cookies()[0]
	assert.Equal(t, oldCookie, c.Name)
	assert.Empty(t, c.Value)
	assert.Equal(t, "/", c.Path, "the old cookie's path, or the browser keeps it")
	assert.Equal(t, -1, c.MaxAge, "Max-Age=0: delete it now")
}

// cred is how a test client presents the token on /ws.
type cred int

const (
	byProtocol cred = iota // the page's way: a subprotocol
	byHeader
	byCookie
	byQuery
)

// dial opens the page's websocket with origin (none if "") and token
// (none if ""), presented as how says.
func dial(addr, origin, token string, how cred) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	u := "ws://" + addr + "/ws"
	if token != "" {
		switch how {
		case byProtocol:
			d.Subprotocols = []string{Subprotocol, TokenProtocolPrefix + token}
		case byHeader:
			h.Set("X-Plugdbg-Token", token)
		case byCookie:
			h.Set("Cookie", oldCookie+"="+token)
		case byQuery:
			u += "?token=" + token
		}
	}
	return d.Dial(u, h)
}

func TestWebsocketAuth(t *testing.T) {
	_, addr := startServer(t, newFakeBackend())
	_, port, _ := net.SplitHostPort(addr)
	same := "http://" + addr
	tests := []struct {
		name   string
		origin string
		token  string
		how    cred
		status int // 101 when the upgrade is accepted
	}{
		{name: "same origin, subprotocol token", origin: same, token: testToken, status: http.StatusSwitchingProtocols},
		{name: "same origin, header token", origin: same, token: testToken, how: byHeader, status: http.StatusSwitchingProtocols},
		{name: "localhost alias of the loopback address", origin: "http://localhost:" + port, token: testToken, status: http.StatusSwitchingProtocols},
		{name: "cross origin", origin: "http://evil.example", token: testToken, status: http.StatusForbidden},
		{name: "cross origin, same host other port", origin: "http://127.0.0.1:1", token: testToken, status: http.StatusForbidden},
		{name: "https origin", origin: "https://" + addr, token: testToken, status: http.StatusForbidden},
		{name: "null origin", origin: "null", token: testToken, status: http.StatusForbidden},
		{name: "no origin", origin: "", token: testToken, status: http.StatusForbidden},
		{name: "same origin without token", origin: same, status: http.StatusUnauthorized},
		{name: "same origin, wrong token", origin: same, token: testToken + "0", status: http.StatusUnauthorized},
		{name: "same origin, cookie only", origin: same, token: testToken, how: byCookie, status: http.StatusUnauthorized},
		{name: "same origin, query token only", origin: same, token: testToken, how: byQuery, status: http.StatusUnauthorized},
		{name: "cross origin, cookie only", origin: "http://127.0.0.1:1", token: testToken, how: byCookie, status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, resp, err := dial(addr, tt.origin, tt.token, tt.how)
			if ws != nil {
				ws.Close()
			}
			require.NotNil(t, resp, "dial: %v", err)
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.status != http.StatusSwitchingProtocols {
				assert.ErrorIs(t, err, websocket.ErrBadHandshake)
				return
			}
			require.NoError(t, err)
			if tt.how == byProtocol {
				// A browser fails a socket whose answer names none of the
				// offered protocols; the answer must not echo the token.
				assert.Equal(t, Subprotocol, ws.Subprotocol())
			}
		})
	}
}

// page is a websocket client that keeps the messages it reads.
type page struct {
	t  *testing.T
	ws *websocket.Conn
}

func openPage(t *testing.T, addr string) *page {
	t.Helper()
	ws, _, err := dial(addr, "http://"+addr, testToken, byProtocol)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	return &page{t: t, ws: ws}
}

func (p *page) send(m map[string]any) {
	p.t.Helper()
	require.NoError(p.t, p.ws.WriteJSON(m))
}

type wireMsg struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Error string `json:"error"`
	Lines []struct {
		P string `json:"p"`
		Q uint64 `json:"q"`
		T int64  `json:"t"`
		L string `json:"l"`
		V string `json:"v"`
	} `json:"lines"`
	Plugins []pluginView `json:"plugins"`
}

// next returns the next message of type typ, skipping others.
func (p *page) next(typ string) wireMsg {
	p.t.Helper()
	for {
		_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wireMsg
		require.NoError(p.t, p.ws.ReadJSON(&m), "waiting for %q", typ)
		require.Empty(p.t, m.Error, "error message")
		if m.Type == typ {
			return m
		}
	}
}

// following waits for the message that says subscription id is in place.
func (p *page) following(id string) {
	p.t.Helper()
	for {
		m := p.next("logs.following")
		if m.ID == id {
			return
		}
	}
}

// seqs reads log messages until it has the lines up to seq last, and
// returns their seqs in order of arrival.
func (p *page) seqs(last uint64) (got []uint64, lags int) {
	p.t.Helper()
	for len(got) == 0 || got[len(got)-1] < last {
		_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wireMsg
		require.NoError(p.t, p.ws.ReadJSON(&m), "after seqs %v", tailOf(got))
		require.Empty(p.t, m.Error)
		switch m.Type {
		case "logs":
			for _, l := range m.Lines {
				got = append(got, l.Q)
			}
		case "logs.lag":
			lags++
		}
	}
	return got, lags
}

func tailOf(s []uint64) []uint64 { return s[max(0, len(s)-5):] }

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHelloPluginsAndEvents(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b)
	p := openPage(t, addr)
	p.next("hello")
	m := p.next("plugins")
	require.Len(t, m.Plugins, 1)
	assert.Equal(t, "p1", m.Plugins[0].Name)
	assert.Equal(t, "running", m.Plugins[0].Status)
	p.next("events") // the past ones, none here
	b.events <- events.Message{Action: "enable", Actor: events.Actor{ID: "id1", Attributes: map[string]string{"name": "p1"}}}
	var ev struct {
		Events []events.Message `json:"events"`
	}
	for {
		_ = p.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := p.ws.ReadMessage()
		require.NoError(t, err)
		if strings.Contains(string(data), `"type":"events"`) {
			require.NoError(t, json.Unmarshal(data, &ev))
			break
		}
	}
	require.Len(t, ev.Events, 1)
	assert.Equal(t, events.Action("enable"), ev.Events[0].Action)
}

func TestLogsTailFollowAndResume(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b)
	b.write(10, 0)

	p := openPage(t, addr)
	p.send(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": "p1", "tail": 4})
	p.following("L1") // before the tail: seqs would miss the lines otherwise
	got, _ := p.seqs(10)
	assert.Equal(t, seqRange(7, 10), got, "the tail")
	b.write(2, 0)
	got, _ = p.seqs(12)
	assert.Equal(t, seqRange(11, 12), got, "followed")

	// The socket drops; lines come meanwhile; the page comes back with the
	// last line it has, and gets exactly the ones after it.
	p.ws.Close()
	b.write(5, 0)
	last := b.lines[11]
	p = openPage(t, addr)
	p.send(map[string]any{"type": "logs.subscribe", "id": "L2", "plugin": "p1",
		"resume": map[string]any{"id1": map[string]any{"seq": last.Seq, "time": last.Time}}})
	got, _ = p.seqs(17)
	assert.Equal(t, seqRange(13, 17), got, "resumed without a repeat or a gap")
	b.write(1, 0)
	got, _ = p.seqs(18)
	assert.Equal(t, []uint64{18}, got)
}

func TestLogsFilterAndLevel(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b)
	b.write(3, 0)
	b.mu.Lock()
	b.lines[1].Line = `level=error msg="Disk Full"`
	b.mu.Unlock()
	p := openPage(t, addr)
	p.send(map[string]any{"type": "logs.subscribe", "id": "L1", "tail": 10, "grep": "disk full"})
	m := p.next("logs")
	require.Len(t, m.Lines, 1, "a plain-text filter ignores case")
	assert.Equal(t, uint64(2), m.Lines[0].Q)
	assert.Equal(t, "error", m.Lines[0].V, "level")

	p.send(map[string]any{"type": "logs.subscribe", "id": "L2", "tail": 10, "grep": "line [13]$", "regex": true})
	m = p.next("logs")
	require.Len(t, m.Lines, 2)
	assert.Equal(t, uint64(1), m.Lines[0].Q)
	assert.Equal(t, uint64(3), m.Lines[1].Q)

	p.send(map[string]any{"type": "logs.subscribe", "id": "L3", "grep": "(", "regex": true})
	_ = p.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var e wireMsg
	for e.Type != "error" {
		require.NoError(t, p.ws.ReadJSON(&e))
	}
	assert.Equal(t, "L3", e.ID)
	assert.Contains(t, e.Error, "invalid filter")
}

func TestLogsHistoryPage(t *testing.T) {
	b := newFakeBackend()
	_, addr := startServer(t, b)
	b.write(50, 0)
	p := openPage(t, addr)
	before := b.lines[30].Time // line 31
	p.send(map[string]any{"type": "logs.history", "id": "H1", "plugin": "p1", "before": before, "tail": 5})
	m := p.next("logs.history")
	var got []uint64
	for _, l := range m.Lines {
		got = append(got, l.Q)
	}
	assert.Equal(t, seqRange(26, 30), got)
	assert.Equal(t, "H1", m.ID)
}

// A page that reads nothing for a while must not hold up the daemon, and
// once it reads again it gets every line once, in order.
func TestSlowPageCatchesUpWithoutLossOrRepeat(t *testing.T) {
	old := []any{sendQueue, blockWait, batchLines}
	sendQueue, blockWait, batchLines = 4, 10*time.Millisecond, 8
	t.Cleanup(func() {
		sendQueue, blockWait, batchLines = old[0].(int), old[1].(time.Duration), old[2].(int)
	})
	b := newFakeBackend()
	_, addr := startServer(t, b)
	p := openPage(t, addr)
	p.send(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": "p1"})
	p.following("L1")

	// 16 MiB of lines, far more than the socket buffers and the queue
	// hold, while the page reads nothing: the follow lags and ends, to be
	// resumed from the history once the page has read its queue.
	for range 4 {
		b.write(128, 32<<10)
	}
	select {
	case <-b.followEnded:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the follow of a page that reads nothing never lagged")
	}
	got, lags := p.seqs(512)
	assert.Equal(t, seqRange(1, 512), got)
	assert.Positive(t, lags, "the page was told it fell behind")
}

func TestUnknownMessageAndBadPlugin(t *testing.T) {
	_, addr := startServer(t, newFakeBackend())
	p := openPage(t, addr)
	p.send(map[string]any{"type": "nope", "id": "x"})
	p.send(map[string]any{"type": "logs.subscribe", "id": "y", "plugin": "missing"})
	var errs []wireMsg
	for len(errs) < 2 {
		_ = p.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m wireMsg
		require.NoError(t, p.ws.ReadJSON(&m))
		if m.Type == "error" {
			errs = append(errs, m)
		}
	}
	assert.Equal(t, "x", errs[0].ID)
	assert.Contains(t, errs[0].Error, "unknown message type")
	assert.Equal(t, "y", errs[1].ID)
	assert.Contains(t, errs[1].Error, "not found")
}

func TestURLAndToken(t *testing.T) {
	tok, err := NewToken()
	require.NoError(t, err)
	assert.Len(t, tok, 64)
	tok2, _ := NewToken()
	assert.NotEqual(t, tok, tok2)
	dir := t.TempDir()
	path, err := WriteToken(dir, tok)
	require.NoError(t, err)
	u, err := url.Parse(URL("127.0.0.1:7777", tok))
	require.NoError(t, err)
	assert.Equal(t, tok, u.Query().Get("token"))
	fi, err := statMode(path)
	require.NoError(t, err)
	assert.Equal(t, "-rw-------", fi)
}

func TestNewChecksOptions(t *testing.T) {
	srv, err := New(Options{Backend: newFakeBackend(), Token: testToken, Addr: "127.0.0.1:7777", Assets: fstest.MapFS{"index.html": {Data: []byte("x")}}})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:7777/auth", nil)
	req.Header.Set("X-Plugdbg-Token", testToken)
	srv.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNoContent, rec.Code)
	_, err = New(Options{Backend: newFakeBackend(), Addr: "127.0.0.1:7777"})
	assert.Error(t, err, "no token")
}

func statMode(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fi.Mode().String(), nil
}
