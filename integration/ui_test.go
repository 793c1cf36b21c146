package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/uirelay"
	"github.com/plugdbg/plugdbg/webui"
)

// uiRelay is a running `plugdbg ui`.
type uiRelay struct {
	cmd    *exec.Cmd
	url    string // as it printed it, with the token
	addr   string // host:port
	token  string
	stderr string // the file its stderr goes to
	done   chan struct{}
	err    error // its exit, once done is closed
}

// startUIRelay runs `plugdbg ui --addr <free port>` against host and
// waits for the URL it prints. It is killed at the end of the test if it
// still runs.
func startUIRelay(t *testing.T, host string) *uiRelay {
	t.Helper()
	r := &uiRelay{addr: freeAddr(t), stderr: filepath.Join(t.TempDir(), "ui.stderr"), done: make(chan struct{})}
	errf, err := os.Create(r.stderr)
	require.NoError(t, err)
	defer errf.Close()
	r.cmd = exec.Command(plugdbgBin, "ui", "--addr", r.addr)
	r.cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+host)
	r.cmd.Stderr = errf
	out, err := r.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, r.cmd.Start())
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			select {
			case lines <- s.Text():
			default: // only the first line counts; later ones would be a bug the format check shows
			}
		}
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	select {
	case line := <-lines:
		re := regexp.MustCompile(`^plugdbg ui: (http://` + regexp.QuoteMeta(r.addr) + `/\?token=([0-9a-f]{64})) \(daemon: ` + regexp.QuoteMeta(host) + `\)$`)
		m := re.FindStringSubmatch(line)
		require.NotNil(t, m, "plugdbg ui printed %q", line)
		r.url, r.token = m[1], m[2]
	case <-r.done:
		require.FailNowf(t, "plugdbg ui exited before it printed its URL", "%v; stderr:\n%s", r.err, r.stderrText())
	case <-time.After(waitTimeout):
		require.FailNowf(t, "plugdbg ui printed no URL", "within %s; stderr:\n%s", waitTimeout, r.stderrText())
	}
	return r
}

func (r *uiRelay) stderrText() string {
	b, _ := os.ReadFile(r.stderr)
	return string(b)
}

// stop sends sig and requires a clean exit (status 0): an interrupted
// plugdbg ui has done its job.
func (r *uiRelay) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(sig))
	select {
	case <-r.done:
	case <-time.After(stopTimeout):
		require.FailNowf(t, "plugdbg ui did not exit", "after %v within %s; stderr:\n%s", sig, stopTimeout, r.stderrText())
	}
	require.NoError(t, r.err, "plugdbg ui's exit after %v; stderr:\n%s", sig, r.stderrText())
}

// wsStatus dials the relay's websocket with header and the token
// subprotocol (none if token is "") and returns the answer's status.
func wsStatus(t *testing.T, addr, token string, header http.Header) int {
	t.Helper()
	d := websocket.DefaultDialer
	if token != "" {
		d = tokenDialer(token)
	}
	ws, resp, err := d.Dial("ws://"+addr+"/ws", header)
	if ws != nil {
		ws.Close()
	}
	require.NotNil(t, resp, "dial: %v", err)
	return resp.StatusCode
}

// TestUIRelay runs plugdbg ui against a daemon whose own UI address is
// off: the relay's rules (its own token, same-origin websocket, loopback
// only), a log line through it, the daemon's API refusing a browser's
// request, and a clean exit on SIGINT with a websocket open.
func TestUIRelay(t *testing.T) {
	d := startDaemonWith(t, "--ui-addr", "")
	p := d.create(t, "uirelay", "echo")
	p = d.enable(t, p.Name)

	_, stderr, code := d.cli(t, "ui", "--addr", "0.0.0.0:0")
	assert.NotZero(t, code, "a non-loopback address")
	assert.Contains(t, stderr, "not a loopback address")

	// On the API's socket the UI needs no token, but refuses what a
	// browser sends: a request with an Origin.
	hc := unixHTTP(d.sock, 10*time.Second)
	defer hc.CloseIdleConnections()
	for _, origin := range []string{"", "http://127.0.0.1:7777"} {
		req, err := http.NewRequest(http.MethodGet, "http://plugdbg/ui/auth", nil)
		require.NoError(t, err)
		want := http.StatusNoContent
		if origin != "" {
			req.Header.Set("Origin", origin)
			want = http.StatusForbidden
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, "GET /ui/auth on the socket with Origin %q", origin)
	}

	r := startUIRelay(t, d.host)
	same := http.Header{"Origin": {"http://" + r.addr}}
	assert.Equal(t, http.StatusUnauthorized, wsStatus(t, r.addr, "", same), "no token")
	assert.Equal(t, http.StatusUnauthorized, wsStatus(t, r.addr, strings.Repeat("0", 64), same), "another token")
	assert.Equal(t, http.StatusForbidden, wsStatus(t, r.addr, r.token, http.Header{"Origin": {"http://evil.example"}}), "a foreign origin")
	assert.Equal(t, http.StatusForbidden, wsStatus(t, r.addr, r.token, nil), "no origin")

	page, err := http.Get(r.url)
	require.NoError(t, err)
	page.Body.Close()
	assert.Equal(t, http.StatusOK, page.StatusCode, "the page")

	ws := uiSocket(t, r.addr, r.token)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": p.Name, "tail": 0}))
	waitFollowing(t, ws, "L1")
	echoWrite(t, p.State.Socket, "stdout", "through the relay\n")
	assert.Equal(t, []string{"through the relay"}, uiTexts(readLines(t, ws, "through the relay")))

	r.stop(t, syscall.SIGINT)
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne net.Error
			assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the page's websocket is closed with the relay: %v", err)
			break
		}
	}
}

// TestUIRelayBrowser loads the URL plugdbg ui prints in headless Chromium:
// the plugin, relayed from the daemon's socket; the daemon stops (the page
// says it is unreachable) and comes back (the page is live again); a line
// the plugin logs shows; SIGTERM ends plugdbg ui cleanly.
func TestUIRelayBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is not installed (scripts/deps.sh test installs the chromium package)", chromiumPath)
	}
	require.True(t, webui.Built(), "the web UI bundle is not built: run `make webui` (needs node) before this test")
	require.NoError(t, os.MkdirAll(webuiArtifacts, 0o755))

	d := startDaemonWith(t, "--ui-addr", "")
	p := d.create(t, "uibrowser", "echo")
	p = d.enable(t, p.Name)
	r := startUIRelay(t, d.host)

	b := newBrowser(t, r.addr, "ui-failed.png", func() string { return "plugdbg ui's stderr:\n" + r.stderrText() })
	ctx, shot, waitJS := b.ctx, b.shot, b.waitJS

	row := fmt.Sprintf(`#plugins tbody tr[data-name=%q]`, p.Name)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(r.url),
		chromedp.WaitVisible(chromedp.CSS(row+` td.state.running`)),
	))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.NotContains(t, loc, r.token, "the token left the address bar")
	waitJS(`window.plugdbg.connected`, "websocket connected")

	// The daemon goes: the page says it is unreachable, and why. (Before
	// the plugin has logged anything: a daemon stopped after its monitor
	// has had a line acknowledged trips a data race of runtime/monitor's
	// Conn.Close in -race builds.)
	d.stop()
	waitJS(`document.querySelector('#conn').textContent === 'daemon unreachable'`, "the page says the daemon is unreachable")
	why, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#auth`)))
	require.NoError(t, err)
	assert.Contains(t, why, "the daemon at "+d.host+" is unreachable")
	shot("ui-1-daemon-down.png")

	// It comes back: the page reconnects by itself.
	d.startWith("--ui-addr", "")
	waitJS(`window.plugdbg.connected && document.querySelector('#conn').textContent === 'live'`, "the page live again")
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#auth').hidden`))
	require.NoError(t, err)
	assert.True(t, hidden, "the message is gone")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(row+` td.state.running`))))
	assert.Contains(t, r.stderrText(), "unreachable", "plugdbg ui said the daemon went")
	assert.Contains(t, r.stderrText(), "answers again")

	// A line the plugin logs, relayed to the page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+` td.name`))))
	waitJS(`window.plugdbg.logs.following === window.plugdbg.logs.subID`, "the subscription in place")
	nonce := fmt.Sprintf("relayed to the browser %d", time.Now().UnixNano())
	echoWrite(t, p.State.Socket, "stdout", nonce+"\n")
	waitJS(`[...document.querySelectorAll('#log-rows .r')].some(r => r.textContent.includes(`+jsString(nonce)+`))`, "the logged line in the page")
	shot("ui-2-relayed.png")

	r.stop(t, syscall.SIGTERM)
	u, err := url.Parse(r.url)
	require.NoError(t, err)
	_, err = net.Dial("tcp", u.Host)
	assert.Error(t, err, "nothing listens once plugdbg ui is gone")
}

// TestUIRelayTLS: the daemon serves the UI on every API listener, its tcp
// one with client certificates too; the relay reaches it over TLS (run in
// process: the CLI's TLS flags are another change's), and without a
// client certificate it cannot.
func TestUIRelayTLS(t *testing.T) {
	f := makeTLSFiles(t)
	d := startDaemonWith(t, "--ui-addr", "", "-H", "tcp://127.0.0.1:0",
		"--tlsverify", "--tlscacert", f.path("ca.pem"), "--tlscert", f.serverCert, "--tlskey", f.serverKey)
	p := d.create(t, "uitls", "echo")
	p = d.enable(t, p.Name)
	host := tcpListener(t, d, "TLS, client certificates required")

	c, err := client.NewWithOptions(client.Options{Host: host, TLS: &tls.Config{RootCAs: f.ca.Pool()}})
	require.NoError(t, err)
	err = uirelay.Run(testCtx(t), uirelay.Options{Addr: "127.0.0.1:0", Transport: c.Transport(), Daemon: c.Host}, io.Discard)
	require.Error(t, err, "no client certificate")
	assert.Contains(t, err.Error(), "the daemon at "+host+" is unreachable")

	c, err = client.NewWithOptions(client.Options{Host: host, TLS: &tls.Config{RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{f.client}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- uirelay.Run(ctx, uirelay.Options{Addr: "127.0.0.1:0", Transport: c.Transport(), Daemon: c.Host}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "the relay's URL")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	u, err := url.Parse(strings.Fields(line)[2])
	require.NoError(t, err, "in %q", line)
	assert.Contains(t, line, "(daemon: "+host+")")

	ws := uiSocket(t, u.Host, u.Query().Get("token"))
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": p.Name, "tail": 0}))
	waitFollowing(t, ws, "L1")
	echoWrite(t, p.State.Socket, "stdout", "over TLS\n")
	assert.Equal(t, []string{"over TLS"}, uiTexts(readLines(t, ws, "over TLS")))
	ws.Close()

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(stopTimeout):
		require.FailNow(t, "the relay did not return after its context ended")
	}
}
