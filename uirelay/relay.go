// Package uirelay is plugdbg ui: it serves a daemon's web UI on a local
// loopback address, relaying the page, its assets and its websocket over
// the client's connection to the daemon (unix socket, tcp with TLS, ssh)
// to the UI the daemon serves on its API under /ui, where access to the
// connection is the credential. The local address is a new way in, so it
// applies the rules of the daemon's own UI address (package uiauth): a
// token of its own, presented explicitly, on the websocket and /auth; a
// Host that names the address; a same-origin websocket. Nothing a browser
// sent on its own (cookies, Origin, Referer) and no local credential
// reaches the daemon.
package uirelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plugdbg/plugdbg/uiauth"
)

// DefaultAddr is where plugdbg ui listens unless told otherwise: the
// daemon's own UI address, which a remote daemon does not take here.
const DefaultAddr = "127.0.0.1:7777"

// prefix is where the daemon's API serves the UI (runtime/api.UIPrefix).
const prefix = "/ui"

// ErrNotLoopback is the kind of a listening address that is not a
// loopback one: whoever reaches the UI can run commands as root in every
// plugin, so it stays on this machine.
var ErrNotLoopback = errors.New("not a loopback address")

// errNoUI is a daemon whose API has no /ui: one older than the client.
var errNoUI = errors.New("it serves no web UI on its API (is plugdbgd older than this plugdbg?)")

// Options configure a Relay.
type Options struct {
	// Addr is the loopback host:port the relay listens on (the real port
	// for New; Run takes port 0 as any free one).
	Addr string
	// Transport reaches the daemon's API: (*client.Client).Transport().
	// The host of its requests' URLs does not matter.
	Transport http.RoundTripper
	// Daemon is the daemon's address as messages show it (client.Host).
	Daemon string
	// Token is what pages must present; Run makes a random one.
	Token string
	// Log gets the relay's messages: the daemon becoming unreachable and
	// reachable again. nil: none.
	Log io.Writer
}

// Relay is the local UI's HTTP handler. It is safe for concurrent use.
type Relay struct {
	o     Options
	site  *uiauth.Site
	proxy *httputil.ReverseProxy
	log   *log.Logger
	down  atomic.Bool // the last request failed to reach the daemon
}

// New returns the relay for o. o.Addr must be a loopback address with its
// real port.
func New(o Options) (*Relay, error) {
	if o.Token == "" {
		return nil, errors.New("plugdbg ui: no token")
	}
	if o.Transport == nil {
		return nil, errors.New("plugdbg ui: no transport to the daemon")
	}
	if err := CheckAddr(o.Addr); err != nil {
		return nil, err
	}
	site, err := uiauth.NewSite(o.Addr)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	rl := &Relay{o: o, site: site, log: log.New(o.Log, "plugdbg ui: ", 0)}
	rl.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      o.Transport,
		ModifyResponse: rl.modifyResponse,
		ErrorHandler:   rl.daemonError,
		ErrorLog:       rl.log,
	}
	return rl, nil
}

// CheckAddr checks that addr is host:port with a loopback host: an IP
// address or localhost.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("listen address %q: %w: the web UI can run commands as root in every plugin, so plugdbg ui serves it on this machine only (127.0.0.1, ::1 or localhost); reach it from elsewhere through ssh -L", addr, ErrNotLoopback)
	}
	return nil
}

// ServeHTTP applies the rules of the daemon's own UI address, then
// relays the request to the daemon's /ui.
func (rl *Relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !rl.site.HostOK(r.Host) {
		rl.refuse(w, http.StatusMisdirectedRequest, "unknown host "+r.Host)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// The page only loads files and opens its websocket.
		rl.refuse(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if p := "/" + r.URL.Path + "/"; strings.Contains(p, "/../") || strings.Contains(p, "/./") {
		rl.refuse(w, http.StatusBadRequest, "invalid path")
		return
	}
	if r.URL.Path == "/ws" || r.URL.Path == "/auth" {
		if !uiauth.TokenEqual(uiauth.RequestToken(r), rl.o.Token) {
			rl.refuse(w, http.StatusUnauthorized, "plugdbg ui: open the URL plugdbg ui printed (it carries the access token of this run)")
			return
		}
		// As gorilla's upgrader does on the daemon's own address; the
		// daemon's API side sees no Origin at all.
		if r.URL.Path == "/ws" && !rl.site.OriginOK(r) {
			rl.refuse(w, http.StatusForbidden, "websocket: request origin not allowed")
			return
		}
	}
	rl.proxy.ServeHTTP(w, r)
}

// refuse answers an error of the relay's own.
func (rl *Relay) refuse(w http.ResponseWriter, status int, msg string) {
	safetyHeaders(w.Header())
	http.Error(w, msg, status)
}

// safetyHeaders are those the daemon's UI sets, for answers that do not
// come from it.
func safetyHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// forwarded are the request headers the daemon gets: what serving files
// and upgrading a websocket need. Everything else stays here: the token
// (X-Plugdbg-Token, Authorization), what the browser attaches on its own
// (Cookie, Origin, Referer) and the local Host.
var forwarded = []string{
	"Accept", "Accept-Language", "Cache-Control", "Pragma",
	"If-Modified-Since", "If-None-Match", "If-Range", "Range", "User-Agent",
	"Connection", "Upgrade",
	"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
}

// rewrite maps /x to the daemon's /ui/x and keeps only the forwarded
// headers, and of the websocket subprotocols those without the token.
func rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Scheme, out.URL.Host = "http", "plugdbg"
	out.URL.Path, out.URL.RawPath = prefix+in.URL.Path, ""
	q := in.URL.Query()
	q.Del("token") // the page's URL carries it
	out.URL.RawQuery = q.Encode()
	out.Host = ""
	h := http.Header{}
	for _, k := range forwarded {
		if v := out.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	if ps := uiauth.WithoutToken(uiauth.Subprotocols(in.Header)); len(ps) > 0 {
		h.Set("Sec-Websocket-Protocol", strings.Join(ps, ", "))
	}
	out.Header = h
}

// modifyResponse checks the daemon's answer: an API's 404 (JSON, not the
// UI's own text) means it has no UI. Cookies never come back.
func (rl *Relay) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusNotFound {
		if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "application/json" {
			return errNoUI
		}
	}
	if rl.down.CompareAndSwap(true, false) {
		rl.log.Printf("the daemon at %s answers again", rl.o.Daemon)
	}
	resp.Header.Del("Set-Cookie")
	safetyHeaders(resp.Header)
	return nil
}

// daemonError answers a request the daemon did not answer: 502, saying
// why. The page asks /auth when its websocket fails, and tells the user.
func (rl *Relay) daemonError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the browser went away, or the relay is stopping
	}
	msg := fmt.Sprintf("the daemon at %s is unreachable: %v", rl.o.Daemon, err)
	if errors.Is(err, errNoUI) {
		msg = fmt.Sprintf("the daemon at %s answers, but %v", rl.o.Daemon, err)
	}
	if !rl.down.Swap(true) {
		rl.log.Print(msg)
	}
	safetyHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "plugdbg ui: "+msg, http.StatusBadGateway)
}

// Run serves the UI of the daemon o.Transport reaches on o.Addr (port 0:
// any free one) with a new random token, and prints its URL to out, until
// ctx ends. Websockets still open then are closed.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if err := CheckAddr(o.Addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("plugdbg ui: %w (a daemon on this machine serves its own UI there by default: open the URL it logs, or give plugdbg ui another --addr, port 0 for any)", err)
	}
	if err != nil {
		return fmt.Errorf("plugdbg ui: %w", err)
	}
	defer ln.Close()
	// localhost may resolve to anything /etc/hosts says.
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		return fmt.Errorf("listen address %q: %w (it resolved to %s)", o.Addr, ErrNotLoopback, ln.Addr())
	}
	o.Addr = ln.Addr().String()
	if o.Token == "" {
		if o.Token, err = uiauth.NewToken(); err != nil {
			return err
		}
	}
	rl, err := New(o)
	if err != nil {
		return err
	}
	if err := rl.check(ctx); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "plugdbg ui: %s (daemon: %s)\n", uiauth.URL(o.Addr, o.Token), o.Daemon); err != nil {
		return fmt.Errorf("plugdbg ui: print the URL: %w", err)
	}
	defer closeIdle(o.Transport)
	return Serve(ctx, ln, rl)
}

// check asks the daemon for its UI once, so that a daemon that cannot be
// reached, or has no UI, is an error at the start rather than a page that
// says so. Later failures are the page's to show: a daemon may restart.
func (rl *Relay) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plugdbg"+prefix+"/auth", nil)
	if err != nil {
		return err
	}
	resp, err := rl.o.Transport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("plugdbg ui: the daemon at %s is unreachable: %w", rl.o.Daemon, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err := rl.modifyResponse(resp); err != nil {
		return fmt.Errorf("plugdbg ui: the daemon at %s answers, but %w", rl.o.Daemon, err)
	}
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("plugdbg ui: the daemon at %s answered %s to %s/auth", rl.o.Daemon, resp.Status, prefix)
	}
	return nil
}

// Serve serves h on ln until ctx ends. Every request's context is ctx's
// child, so that relayed websockets, which the server does not track
// once upgraded, end with it.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			_ = srv.Close()
		}
		return nil
	case err := <-errc:
		return fmt.Errorf("plugdbg ui: serve: %w", err)
	}
}

// closeIdle closes the idle connections of tr, if it keeps any (an ssh
// host's are ssh processes).
func closeIdle(tr http.RoundTripper) {
	if c, ok := tr.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
