package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/webui"
)

// chromiumPath is Debian's chromium, which `scripts/deps.sh test` installs.
const chromiumPath = "/usr/bin/chromium"

// webuiArtifacts is where the browser test leaves its screenshots.
var webuiArtifacts = filepath.Join("..", "build", "artifacts", "webui")

// freeAddr returns a loopback host:port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startUIDaemon starts a daemon with its web UI on a free port and
// returns it, the UI's address and the token, read from the exec-root.
func startUIDaemon(t *testing.T) (d *daemon, addr, token string) {
	t.Helper()
	addr = freeAddr(t)
	d = startDaemonWith(t, "--ui-addr", addr)
	b, err := os.ReadFile(filepath.Join(d.execRoot, webui.TokenFile))
	require.NoError(t, err, "token file")
	token = strings.TrimSpace(string(b))
	require.Regexp(t, `^[0-9a-f]{64}$`, token)
	fi, err := os.Stat(filepath.Join(d.execRoot, webui.TokenFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "token file mode")
	assert.Contains(t, d.daemonLog(), webui.URL(addr, token), "the daemon prints the URL with the token")
	return d, addr, token
}

// uiSocket opens a page's websocket on a real daemon.
func uiSocket(t *testing.T, addr, token string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Origin": {"http://" + addr}}
	ws, _, err := tokenDialer(token).Dial("ws://"+addr+"/ws", h)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	return ws
}

// tokenDialer presents token as the page does: in a subprotocol.
func tokenDialer(token string) *websocket.Dialer {
	d := *websocket.DefaultDialer
	d.Subprotocols = []string{webui.Subprotocol, webui.TokenProtocolPrefix + token}
	return &d
}

type uiLine struct {
	P string `json:"p"`
	Q uint64 `json:"q"`
	T int64  `json:"t"`
	L string `json:"l"`
}

// readLines reads the socket's log messages until a line has text last.
func readLines(t *testing.T, ws *websocket.Conn, last string) []uiLine {
	t.Helper()
	var got []uiLine
	for {
		_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
		var m struct {
			Type  string   `json:"type"`
			Error string   `json:"error"`
			Lines []uiLine `json:"lines"`
		}
		require.NoError(t, ws.ReadJSON(&m), "waiting for %q after %d lines", last, len(got))
		require.Empty(t, m.Error)
		if m.Type != "logs" {
			continue
		}
		got = append(got, m.Lines...)
		if len(got) > 0 && got[len(got)-1].L == last {
			return got
		}
	}
}

// waitFollowing reads the socket until subscription id is in place.
func waitFollowing(t *testing.T, ws *websocket.Conn, id string) {
	t.Helper()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
		var m struct {
			Type  string `json:"type"`
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		require.NoError(t, ws.ReadJSON(&m), "waiting for subscription %s to be in place", id)
		require.Empty(t, m.Error)
		if m.Type == "logs.following" && m.ID == id {
			return
		}
	}
}

func uiTexts(ls []uiLine) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.L)
	}
	return out
}

// TestWebUISocket checks the web UI of a real daemon without a browser:
// the token, cross-origin refusal, and a log follow that resumes after a
// dropped socket without a repeated or a lost line.
func TestWebUISocket(t *testing.T) {
	d, addr, token := startUIDaemon(t)
	p := d.create(t, "wsecho", "echo")
	p = d.enable(t, p.Name)
	sock := p.State.Socket

	// The websocket wants the token itself: not a cookie, which a browser
	// sends to every port of the address.
	h := http.Header{"Origin": {"http://" + addr}, "Cookie": {"plugdbg_token=" + token}}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", h)
	require.Error(t, err, "upgrade with a cookie only")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "cookie only")

	h = http.Header{"Origin": {"http://evil.example"}}
	_, resp, err = tokenDialer(token).Dial("ws://"+addr+"/ws", h)
	require.Error(t, err, "cross-origin upgrade")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	ws := uiSocket(t, addr, token)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": p.Name, "tail": 0}))
	waitFollowing(t, ws, "L1") // tail 0 sends no history: nothing else says the follow is live
	echoWrite(t, sock, "stdout", "one\ntwo\n")
	got := readLines(t, ws, "two")
	assert.Equal(t, []string{"one", "two"}, uiTexts(got))
	last := got[len(got)-1]
	ws.Close()

	// Spaced: stdout and stderr are read apart, so two lines written
	// back to back on them may be numbered in either order.
	writeSpaced(t, d, p.Name, sock, [][2]string{{"stdout", "three"}, {"stderr", "four"}})
	ws = uiSocket(t, addr, token)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "logs.subscribe", "id": "L2", "plugin": p.Name,
		"resume": map[string]any{last.P: map[string]any{"seq": last.Q, "time": last.T}}}))
	got = readLines(t, ws, "four")
	assert.Equal(t, []string{"three", "four"}, uiTexts(got), "resumed after the last line the page had")
	echoWrite(t, sock, "stdout", "five\n")
	got = readLines(t, ws, "five")
	assert.Equal(t, []string{"five"}, uiTexts(got))
}

// TestWebUIBrowser loads the web UI in headless Chromium against a real
// daemon and a real plugin: the plugin table, a line the plugin logs, a
// probe and a shell. Screenshots go to build/artifacts/webui.
func TestWebUIBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is not installed (scripts/deps.sh test installs the chromium package)", chromiumPath)
	}
	require.True(t, webui.Built(), "the web UI bundle is not built: run `make webui` (needs node) before this test")
	require.NoError(t, os.MkdirAll(webuiArtifacts, 0o755))

	d, addr, token := startUIDaemon(t)
	p := d.create(t, "webecho", "echo")
	p = d.enable(t, p.Name)

	b := newBrowser(t, addr, "failed.png", nil)
	ctx, shot, waitJS := b.ctx, b.shot, b.waitJS

	// The page, with the token; the plugin is listed as running.
	row := fmt.Sprintf(`#plugins tbody tr[data-name=%q]`, p.Name)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(webui.URL(addr, token)),
		chromedp.WaitVisible(chromedp.CSS(row+` td.state.running`)),
	))
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` td.state`)))
	require.NoError(t, err)
	url, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, "running", state)
	assert.NotContains(t, url, token, "the token left the address bar")
	waitJS(`window.plugdbg.connected`, "websocket connected")

	// Pick the plugin: the log view follows it, and a line it logs once the
	// server says the new subscription is in place shows in the page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+` td.name`))))
	waitJS(`document.querySelector('#log-plugin').value === `+jsString(p.Name), "log view on the plugin")
	waitJS(`window.plugdbg.logs.following === window.plugdbg.logs.subID`, "the new subscription in place")
	nonce := fmt.Sprintf("hello from the browser test %d", time.Now().UnixNano())
	echoWrite(t, p.State.Socket, "stdout", `level=warning msg="`+nonce+`"`+"\n")
	waitJS(`[...document.querySelectorAll('#log-rows .r')].some(r => r.textContent.includes(`+jsString(nonce)+`))`, "logged line in the page")
	cls, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#log-rows .r')].find(r => r.textContent.includes(`+jsString(nonce)+`)).className`))
	require.NoError(t, err)
	assert.Contains(t, cls, "lv-warning", "the line is coloured by its level")
	shot("1-plugins-and-logs.png")

	// A probe: Plugin.Activate from the catalog, and its answer.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab=probe]`)),
		chromedp.SetValue(chromedp.CSS(`#probe-plugin`), p.Name),
		chromedp.SetValue(chromedp.CSS(`#probe-method`), "Plugin.Activate"),
		chromedp.Click(chromedp.CSS(`#probe-send`)),
		chromedp.WaitVisible(chromedp.CSS(`#probe-answer`)),
	))
	answer, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#probe-answer`)))
	require.NoError(t, err)
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#probe-status`)))
	require.NoError(t, err)
	var act struct{ Implements []string }
	require.NoError(t, json.Unmarshal([]byte(answer), &act), "answer %q", answer)
	assert.Equal(t, []string{"VolumeDriver"}, act.Implements)
	assert.Regexp(t, regexp.MustCompile(`^Plugin\.Activate: 200 OK in [0-9.]+ ms$`), status)
	shot("2-probe.png")

	// A shell in the plugin: type `echo hi`, read hi.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab=terminal]`)),
		chromedp.SetValue(chromedp.CSS(`#term-plugin`), p.Name),
		chromedp.Click(chromedp.CSS(`#term-open`)),
		chromedp.WaitVisible(chromedp.CSS(`#term .xterm-rows`)),
	))
	rows := `[...document.querySelectorAll('#term .xterm-rows > div')].map(r => r.textContent.trimEnd())`
	waitJS(rows+`.some(r => /[#$] ?$/.test(r))`, "shell prompt")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`#term .xterm-helper-textarea`)),
		typeKeys("echo hi\r"),
	))
	waitJS(rows+`.some(r => r === 'hi')`, "hi in the terminal")
	shot("3-terminal.png")

	// A trace: the calls a client makes to the plugin's socket appear live,
	// and stopping it puts the socket back.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab=trace]`)),
		chromedp.SetValue(chromedp.CSS(`#trace-plugin`), p.Name),
		chromedp.Click(chromedp.CSS(`#trace-toggle`)),
	))
	waitJS(`document.querySelector('#trace-state').textContent.startsWith('tracing ')`, "the trace started")
	traced := fmt.Sprintf("traced call %d\n", time.Now().UnixNano())
	echoWrite(t, p.State.Socket, "stdout", traced)
	traceRows := `[...document.querySelectorAll('#trace tbody tr')].map(r => [...r.cells].map(c => c.textContent))`
	waitJS(traceRows+`.some(c => c[2] === 'Echo.Write' && c[3] === '200')`, "the call in the trace view")
	shot("4-trace.png")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#trace-toggle`))))
	waitJS(`document.querySelector('#trace-state').textContent.startsWith('trace stopped')`, "the trace stopped")
	echoWrite(t, p.State.Socket, "stdout", "after the trace\n") // the socket is the plugin's again

	// History on scroll: a view opens on the last 500 lines of the history;
	// scrolling to its top loads the older ones, a page at a time, down to
	// the plugin's first line, in order and without a repeat.
	var lines strings.Builder
	for i := 1; i <= 700; i++ {
		fmt.Fprintf(&lines, "history line %d\n", i)
	}
	echoWrite(t, p.State.Socket, "stdout", lines.String())
	var total int
	eventually(t, func() bool { total = len(d.apiLogs(t, p.Name, nil)); return total >= 700 }, waitTimeout, "the 700 lines in the history")
	held := `window.plugdbg.logs.lines.length`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(row+` td.state.running`)),
	))
	waitJS(`window.plugdbg.connected`, "websocket connected after the reload")
	assertTokenOnlyInPage(t, ctx, addr, token)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#tabs button[data-tab=logs]`)), chromedp.Click(chromedp.CSS(row+` td.name`))))
	waitJS(held+` === 500`, "the view opens on the last 500 lines")
	for loaded := 500; loaded < total; loaded = min(loaded+200, total) {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#log-view').scrollTop = 0`))
		require.NoError(t, err)
		waitJS(fmt.Sprintf(`%s === %d`, held, min(loaded+200, total)), "older lines loaded on scroll")
	}
	waitJS(`document.querySelector('#log-top').textContent === 'start of the history'`, "the top of the history reached")
	seqs, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`window.plugdbg.logs.lines.map(l => l.q)`))
	require.NoError(t, err)
	require.Len(t, seqs, total)
	for i, q := range seqs {
		if q != i+1 {
			require.Failf(t, "history lines out of order", "line %d of the view has seq %d", i, q)
		}
	}
	shot("5-history.png")

	// A stale token (the daemon restarted since) is refused, and the page
	// says so instead of reconnecting for ever. The query's token replaces
	// the stored one.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(webui.URL(addr, strings.Repeat("0", len(token))))))
	waitJS(`document.querySelector('#conn').textContent === 'access token refused'`, "the refused token shown")
	visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('#auth').hidden`))
	require.NoError(t, err)
	assert.True(t, visible, "the page explains what to open")
}

// assertTokenOnlyInPage checks, after a reload, where the browser holds
// the token: in the page's sessionStorage (per origin), neither in the
// address bar nor in any cookie, which the browser would send to every
// port of 127.0.0.1.
func assertTokenOnlyInPage(t *testing.T, ctx context.Context, addr, token string) {
	t.Helper()
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("plugdbg.token") ?? ""`))
	require.NoError(t, err)
	assert.Equal(t, token, stored, "the token in the page's sessionStorage")
	docCookie, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	assert.NotContains(t, docCookie, token, "document.cookie")
	got, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tgt *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tgt, network.GetCookies, network.GetCookiesParams{URLs: []string{"http://" + addr + "/", "http://" + addr + "/ws"}})
	}))
	require.NoError(t, err)
	for _, c := range got.Cookies {
		assert.NotContains(t, c.Value, token, "cookie %s (HttpOnly too)", c.Name)
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.NotContains(t, url, token, "the address bar after the reload")
}

// uiHost is the host of the UI's address, which must be loopback.
func uiHost(t *testing.T, addr string) string {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.True(t, net.ParseIP(host).IsLoopback(), "the UI must listen on loopback, not %s", host)
	return host
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// typeKeys types s into the focused element as a keyboard does: a keyDown
// that carries the text, then a keyUp, per key. (chromedp.SendKeys adds a
// separate char event, which xterm.js takes as a second key press.)
func typeKeys(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range s {
			down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: string(r), Text: string(r)}
			switch {
			case r == '\r':
				down.Key, down.Code, down.WindowsVirtualKeyCode = "Enter", "Enter", 13
			case r == ' ':
				down.Code, down.WindowsVirtualKeyCode = "Space", 32
			case r >= 'a' && r <= 'z':
				down.Code, down.WindowsVirtualKeyCode = "Key"+strings.ToUpper(string(r)), int64(r-'a'+'A')
			}
			up := down
			up.Type, up.Text = input.DispatchKeyEventTypeKeyUp, ""
			for _, ev := range []input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// browser is a headless Chromium for a UI test.
type browser struct {
	t        *testing.T
	ctx      context.Context
	failShot string        // the screenshot taken when a wait times out
	note     func() string // more to say when a wait times out, or nil
}

// newBrowser starts Chromium for a page served on addr, ended with the
// test. The browser's own calls (it looks up accounts.google.com and
// clients2.google.com even with background networking off) must not leave
// the machine, not even as DNS queries: nothing but the UI's loopback
// address resolves. (Its IPv6 probe, a UDP connect that sends nothing,
// remains.)
func newBrowser(t *testing.T, addr, failShot string, note func() string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE "+uiHost(t, addr)),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancel(); cancelCtx(); cancelAlloc() })
	return &browser{t: t, ctx: ctx, failShot: failShot, note: note}
}

// shot saves a screenshot of the page among the test's artifacts.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	path := filepath.Join(webuiArtifacts, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
}

// waitJS polls a JS expression until it is true. Its deadline only ends a
// test that is broken: how fast the page shows things is bench/webui.sh's
// figure, not this test's.
func (b *browser) waitJS(expr, what string) {
	b.t.Helper()
	// The page evaluates expr on each animation frame (chromedp.Poll)
	// until it is true: no sleep on this side.
	ok, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil || !ok {
		b.shot(b.failShot)
		more := ""
		if b.note != nil {
			more = "\n" + b.note()
		}
		require.FailNowf(b.t, "timed out", "%s: not within %s (%v)%s", what, waitTimeout, err, more)
	}
}
