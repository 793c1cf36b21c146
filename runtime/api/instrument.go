package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// RequestObserver is told of every API request once it has been answered,
// for the daemon's metrics (package runtime/metrics). It must be safe for
// concurrent use, and fast: it runs on every request.
type RequestObserver interface {
	// Request sees one answered request: its route (Route), method
	// (Method), status code (101 for a connection taken over by an exec
	// or a tunnel) and how long it took. stream marks a route that lasts
	// as long as its client watches (Route).
	Request(route, method string, code int, d time.Duration, stream bool)
}

// Instrument tells o of every request next answers; with a nil o it
// returns next. It is meant as the outermost handler, so that requests
// refused before routing (RefuseBrowsers) count too.
func Instrument(next http.Handler, o RequestObserver) http.Handler {
	if o == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, stream := Route(r.Method, r.URL.Path)
		sw := &statusWriter{ResponseWriter: w}
		t0 := time.Now()
		next.ServeHTTP(sw, r)
		o.Request(route, Method(r.Method), sw.status(), time.Since(t0), stream)
	})
}

// Route is the template of the route ServeHTTP gives a request — a
// bounded set of values such as "/plugins/{name}/enable", never the raw
// path, which holds plugin names and IDs — and whether it is a stream: an
// answer that lasts as long as its client watches (events, logs, trace,
// stats, an exec session, a tunnel, the web UI's websocket). A path the
// API does not serve is "other". It follows ServeHTTP's routing, by path
// only: a known path with a method the API does not serve keeps its
// route (and gets a 404).
func Route(method, path string) (route string, stream bool) {
	if path == UIPrefix || strings.HasPrefix(path, UIPrefix+"/") {
		return UIPrefix, true
	}
	if loc := versionPrefix().FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	switch path {
	case "/_ping", "/auth", "/version", "/plugins", "/plugins/create", "/plugins/privileges", "/plugins/pull":
		return path, false
	case "/events", "/logs":
		return path, true
	}
	rest, ok := strings.CutPrefix(path, "/plugins/")
	if !ok || rest == "" {
		return routeOther, false
	}
	if method == http.MethodDelete {
		return "/plugins/{name}", false
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return routeOther, false
	}
	action := rest[i+1:]
	switch action {
	case "json", "top", "usage", "enable", "disable", "set", "push", "upgrade", "log-opts", "publish":
		return "/plugins/{name}/" + action, false
	case "exec", "connect", "stats", "logs", "trace":
		return "/plugins/{name}/" + action, true
	}
	return routeOther, false
}

// routeOther is the route of every path the API does not serve.
const routeOther = "other"

// Method is the method as a metric label: one of HTTP's, or "other", so
// that a client cannot make up values.
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusWriter notes the status code of an answer. It passes on Flush and
// Hijack, which the streams and upgrades use, and Unwrap for
// http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("hijack: %w", http.ErrNotSupported)
	}
	conn, brw, err := hj.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the answer's code: the one written; 101 for a connection
// taken over before any was (the handler answers 101 on it itself); 200,
// as net/http, for a handler that wrote nothing.
func (w *statusWriter) status() int {
	switch {
	case w.code != 0:
		return w.code
	case w.hijacked:
		return http.StatusSwitchingProtocols
	}
	return http.StatusOK
}
