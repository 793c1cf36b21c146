// Package webui serves plugdbg's web UI: static pages embedded in the
// binary and one websocket per page that multiplexes everything the page
// shows (plugin states, events, log lines, probe calls, traces, terminals
// and chart series). On its own address the websocket needs the access
// token the daemon prints, presented explicitly (never a cookie, which a
// browser would also send to other ports of the address), and a
// same-origin Origin header (package uiauth has the rules). On the
// daemon's API connection (Options.Trusted) access to that connection is
// the credential, and only a relay (plugdbg ui), never a browser, is
// served.
package webui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/moby/moby/api/types/events"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/uiauth"
)

// DefaultAddr is where the daemon serves the UI unless told otherwise:
// loopback only.
const DefaultAddr = "127.0.0.1:7777"

// Backend is what the UI needs of the daemon: the plugin manager
// (*manager.Manager) for the lifecycle, a log follower (*follow.Follower)
// for Logs.
// All methods must be safe for concurrent use.
type Backend interface {
	List() []types.Inspect
	Inspect(ref string) (types.Inspect, error)
	Enable(ctx context.Context, ref string, timeout time.Duration) error
	Disable(ctx context.Context, ref string, force bool) error
	Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error
	SubscribeSince(since time.Time) ([]events.Message, <-chan events.Message, func())
	Exec(ref string, c types.ExecConfig) (execproto.Process, error)
}

// Options configure a Server.
type Options struct {
	Backend Backend
	Token   string // what a page must present; unused when Trusted
	Assets  fs.FS  // Assets() in the daemon; an fstest.MapFS in tests
	Log     *logrus.Logger
	// Addr is the address the server listens on (host:port, the real
	// port). Websocket upgrades are accepted only from pages of this
	// origin (and localhost:port for a loopback address). Unused when
	// Trusted.
	Addr string
	// Trusted serves the UI on a connection whose access is itself the
	// credential: the daemon's API listeners (its unix socket, or tcp
	// with client certificates), where a client already has the whole
	// API. No token, Host or Origin is checked, but a request that has an
	// Origin header is refused: it comes from a browser page, and only a
	// relay that has applied the browser rules itself (plugdbg ui, which
	// strips Origin) may reach the UI there.
	Trusted bool
	// Charts are the plugins' series, for the charts; nil: the daemon
	// keeps none, and the page shows no charts.
	Charts Charts
}

// Server is the web UI's HTTP handler.
type Server struct {
	o        Options
	site     *uiauth.Site // the names of Addr; nil when Trusted
	upgrader websocket.Upgrader
	files    http.Handler
	ctx      context.Context // ends the websockets on Close
	cancel   context.CancelFunc
	tune     tuning
}

// tuning is the package's timing and bounds, as they were when the Server
// was made: tests change the variables between servers, never under one.
type tuning struct {
	sendQueue  int
	blockWait  time.Duration
	batchEvery time.Duration
	batchLines int
}

// New returns the UI's handler. Close ends its websockets.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = logrus.New()
	}
	s := &Server{o: o, tune: tuning{sendQueue: sendQueue, blockWait: blockWait, batchEvery: batchEvery, batchLines: batchLines}}
	if !o.Trusted {
		if o.Token == "" {
			return nil, errors.New("web UI: no token")
		}
		site, err := uiauth.NewSite(o.Addr)
		if err != nil {
			return nil, err
		}
		s.site = site
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4 << 10,
		WriteBufferSize: 32 << 10,
		CheckOrigin:     s.checkOrigin,
		Subprotocols:    []string{Subprotocol},
	}
	s.files = http.FileServerFS(o.Assets)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close ends every websocket of s; the HTTP server itself is the caller's.
func (s *Server) Close() { s.cancel() }

// checkOrigin accepts an upgrade only from a page of the UI's own origin
// (see uiauth.Site.OriginOK); on a trusted connection, only one without
// an Origin: a relay's, never a browser's.
func (s *Server) checkOrigin(r *http.Request) bool {
	if s.o.Trusted {
		return r.Header.Get("Origin") == ""
	}
	return s.site.OriginOK(r)
}

// ServeHTTP checks the Host, then serves the page and its assets to
// anyone, and the websocket and /auth only to a request that presents the
// token explicitly (see uiauth.RequestToken). When Trusted it checks
// neither, and refuses any request that has an Origin header.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.o.Trusted && r.Header.Get("Origin") != "" {
		http.Error(w, "plugdbg web UI: the daemon's API serves the UI to `plugdbg ui` only; run it and open the URL it prints", http.StatusForbidden)
		return
	}
	if !s.o.Trusted && !s.site.HostOK(r.Host) {
		http.Error(w, "unknown host "+r.Host, http.StatusMisdirectedRequest)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if _, err := r.Cookie(oldCookie); err == nil {
		http.SetCookie(w, &http.Cookie{Name: oldCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	switch {
	case r.URL.Path == "/ws" || r.URL.Path == "/auth":
		if !s.o.Trusted && !uiauth.TokenEqual(uiauth.RequestToken(r), s.o.Token) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, "plugdbg web UI: open the URL the daemon printed (it carries the access token), or read the token from <exec-root>/"+TokenFile)
			return
		}
		if r.URL.Path == "/ws" {
			s.serveWS(w, r)
			return
		}
		// /auth lets the page tell a refused token from a daemon that is
		// down, which a failed websocket does not say.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		// The page and its bundle hold no secret (the token comes from the
		// address bar, the data over the websocket), so they need no
		// token: a reload and a new tab just work.
		if path.Ext(r.URL.Path) == "" || strings.HasSuffix(r.URL.Path, ".html") {
			w.Header().Set("Cache-Control", "no-store")
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
		s.files.ServeHTTP(w, r)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered (403 for a foreign origin)
	}
	c := newConn(s, ws)
	c.run(r.Context())
}

// Serve serves s on ln until ctx ends, then closes the websockets.
func Serve(ctx context.Context, ln net.Listener, s *Server) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		s.Close()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
		return nil
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve web UI: %w", err)
	}
}

// URL is the address a browser opens, with the token: the page moves it
// from the address bar to its own per-origin storage.
func URL(addr, token string) string { return uiauth.URL(addr, token) }
