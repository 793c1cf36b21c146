// Package api serves the daemon's HTTP API on a unix socket: the Docker
// Engine API's plugin subset (same paths, query parameters, JSON shapes,
// status codes and {"message": ...} errors), so that the stock docker CLI
// works against plugdbg, and plugdbg's own endpoints beside it. The
// endpoints of one plugin serve plugdbg's own plugins and, as
// "docker:NAME", a real dockerd's, through one Backend interface
// (backend.go).
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/system"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/listen"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/version"
)

// Server is the daemon's API.
type Server struct {
	local  Runtime // plugdbg's own plugins
	docker Backend // dockerd's plugins, "docker:NAME" (docker.go); nil: none
	log    *logrus.Logger

	registry *distribution.Registry // logins are checked against it (auth.go); nil: a default one
	ui       http.Handler           // the web UI under UIPrefix (WithUI); nil: none
}

// UIPrefix is where the API serves the web UI (WithUI): its page, assets
// and websocket, for plugdbg ui to relay.
const UIPrefix = "/ui"

// WithUI serves h, the web UI, under UIPrefix on every listener of the
// API, with the prefix taken off the path. Access to the API's connection
// is the credential there, as for every other endpoint, so h must ask for
// no token: webui.Server with Trusted, which also refuses a browser's
// request (one with an Origin header). Call it before serving.
func (s *Server) WithUI(h http.Handler) *Server {
	s.ui = nil
	if h != nil {
		s.ui = http.StripPrefix(UIPrefix, h)
	}
	return s
}

// New returns the API for m, whose plugins' lines f streams.
func New(m *manager.Manager, f Follower, log *logrus.Logger) *Server {
	return &Server{local: managerRuntime{m, f}, log: log}
}

// errNoDocker answers a docker:NAME target or ?docker=1 when the daemon
// was given no dockerd.
var errNoDocker = errors.New("the daemon has no dockerd to talk to")

// versionPrefix is compiled on first use: every CLI process links this
// package, and compiling at init would cost each of them.
var versionPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`) })

// ServeHTTP routes a request. Plugin names contain slashes, so routing is
// done by hand rather than with ServeMux patterns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == UIPrefix || strings.HasPrefix(r.URL.Path, UIPrefix+"/") {
		s.serveUI(w, r)
		return
	}
	path := r.URL.Path
	if loc := versionPrefix().FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	w.Header().Set("Api-Version", version.APIVersion)
	w.Header().Set("Server", "plugdbg/"+version.Version)
	switch {
	case path == "/_ping":
		s.ping(w, r)
	case path == "/auth" && r.Method == http.MethodPost:
		s.auth(w, r)
	case path == "/version" && r.Method == http.MethodGet:
		s.version(w)
	case path == "/events" && r.Method == http.MethodGet:
		s.events(w, r)
	case path == "/logs" && r.Method == http.MethodGet:
		s.logs(w, r, s.local, "")
	case path == "/plugins" && r.Method == http.MethodGet && r.URL.Query().Has("docker"):
		if s.docker == nil {
			writeErr(w, errkind.NotImplemented(errNoDocker))
			return
		}
		s.list(w, r, s.docker)
	case path == "/plugins" && r.Method == http.MethodGet:
		s.list(w, r, s.local)
	case path == "/plugins/create" && r.Method == http.MethodPost:
		s.create(w, r)
	case path == "/plugins/privileges" && r.Method == http.MethodGet:
		s.privileges(w, r)
	case path == "/plugins/pull" && r.Method == http.MethodPost:
		s.pull(w, r)
	case strings.HasPrefix(path, "/plugins/"):
		s.plugin(w, r, strings.TrimPrefix(path, "/plugins/"))
	default:
		writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path)))
	}
}

// serveUI serves the web UI (WithUI), unversioned: only plugdbg ui asks
// for it, never a Docker client.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	if s.ui == nil {
		writeErr(w, errkind.NotFound(errors.New("this daemon serves no web UI on its API")))
		return
	}
	s.ui.ServeHTTP(w, r)
}

func (s *Server) plugin(w http.ResponseWriter, r *http.Request, rest string) {
	name, action := rest, ""
	if r.Method != http.MethodDelete {
		i := strings.LastIndex(rest, "/")
		if i < 0 {
			writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path)))
			return
		}
		name, action = rest[:i], rest[i+1:]
	}
	if name == "" || name == dockerd.Prefix {
		// Not a lookup of "": as an ID prefix it would match every plugin.
		writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s (no plugin name)", r.Method, r.URL.Path)))
		return
	}
	if r.Method == http.MethodDelete {
		s.remove(w, r, name)
		return
	}
	// The target picks the backend, once; the handlers below serve both.
	var b Backend = s.local
	ref, docker := strings.CutPrefix(name, dockerd.Prefix)
	if docker {
		if s.docker == nil {
			writeErr(w, errkind.NotImplemented(errNoDocker))
			return
		}
		b = s.docker
	}
	if s.serveTarget(w, r, b, ref, action) {
		return
	}
	if docker { // the lifecycle is docker's: dockerd's plugins have observe and calls of it
		s.serveDocker(w, r, ref, action)
		return
	}
	switch {
	case action == "enable" && r.Method == http.MethodPost:
		s.enable(w, r, name)
	case action == "disable" && r.Method == http.MethodPost:
		s.disable(w, r, name)
	case action == "set" && r.Method == http.MethodPost:
		s.set(w, r, name)
	case action == "push" && r.Method == http.MethodPost:
		s.push(w, r, name)
	case action == "upgrade" && r.Method == http.MethodPost:
		s.upgrade(w, r, name)
	case action == "log-opts" && r.Method == http.MethodPost:
		s.setLogOpts(w, r, name)
	case action == "publish" && r.Method == http.MethodPost:
		s.publish(w, r, name)
	case action == "observe" && r.Method == http.MethodPost:
		s.observe(w, r, name)
	case action == "calls" && r.Method == http.MethodGet:
		s.calls(w, r, name)
	default:
		writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path)))
	}
}

// serveTarget serves action on plugin ref of b if it is one every backend
// has, and reports whether it was.
func (s *Server) serveTarget(w http.ResponseWriter, r *http.Request, b Backend, ref, action string) bool {
	switch {
	case action == "json" && r.Method == http.MethodGet:
		s.inspect(w, r, b, ref)
	case action == "exec" && r.Method == http.MethodPost:
		s.exec(w, r, b, ref)
	case action == "connect" && r.Method == http.MethodPost:
		s.connect(w, r, b, ref)
	case action == "top" && r.Method == http.MethodGet:
		s.top(w, r, b, ref)
	case action == "stats" && r.Method == http.MethodGet:
		s.stats(w, r, b, ref)
	case action == "logs" && r.Method == http.MethodGet:
		s.logs(w, r, b, ref)
	case action == "trace" && r.Method == http.MethodGet:
		s.trace(w, r, b, ref)
	case action == "usage" && r.Method == http.MethodGet:
		s.usage(w, r, b, ref)
	default:
		return false
	}
	return true
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		return
	}
	_, _ = w.Write([]byte("OK"))
}

func (s *Server) version(w http.ResponseWriter) {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	kernel := unix.ByteSliceToString(uts.Release[:])
	writeJSON(w, http.StatusOK, system.VersionResponse{
		Platform:      struct{ Name string }{Name: "plugdbg"},
		Components:    []system.ComponentVersion{{Name: "plugdbg", Version: version.Version}},
		Version:       version.Version,
		APIVersion:    version.APIVersion,
		MinAPIVersion: version.MinAPIVersion,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		KernelVersion: kernel,
	})
}

// list answers GET /plugins with b's plugins that pass the filters.
func (s *Server) list(w http.ResponseWriter, r *http.Request, b Backend) {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	all, err := b.List(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	out := []types.Inspect{}
	for _, p := range all {
		ok, err := f.match(p.Plugin)
		if err != nil {
			writeErr(w, errkind.Invalid(err))
			return
		}
		if ok {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	p, err := b.Inspect(r.Context(), ref)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// usage says what holds plugin ref; calls=1 adds the recent calls its
// traces saw.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	calls, err := boolValue(r, "calls")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	u, err := b.Usage(r.Context(), ref, calls)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if _, err := s.local.Create(r.Context(), r.URL.Query().Get("name"), r.Body); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) enable(w http.ResponseWriter, r *http.Request, name string) {
	timeout := time.Duration(0)
	if t := r.URL.Query().Get("timeout"); t != "" {
		secs, err := strconv.Atoi(t)
		if err != nil || secs < 0 {
			writeErr(w, errkind.Invalid(fmt.Errorf("invalid timeout %q: must be a number of seconds", t)))
			return
		}
		timeout = time.Duration(secs) * time.Second
	}
	progress, err := boolValue(r, "progress")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if !progress {
		// Docker's answer: 200 and no body, once the plugin is ready.
		if err := s.local.Enable(r.Context(), name, timeout); err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	// plugdbg's client asks (progress=1) to be told what the enable waits
	// for, as Docker's progress stream; an error before the first line is
	// still a plain error status.
	ps := newProgressStream(w)
	ps.kinds = true
	ctx := manager.WithProgress(r.Context(), func(status string) {
		ps.send(streamMessage{Message: jsonstream.Message{Status: status}})
	})
	ps.finish(s.local.Enable(ctx, name, timeout))
}

func (s *Server) disable(w http.ResponseWriter, r *http.Request, name string) {
	force, err := boolValue(r, "force")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if err := s.local.Disable(r.Context(), name, force); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, name string) {
	force, err := boolValue(r, "force")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if err := s.local.Remove(r.Context(), name, force); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) set(w http.ResponseWriter, r *http.Request, name string) {
	applyJSON(w, r, routeSet, maxSetBody, "a JSON array of KEY=VALUE strings", func(args []string) error { return s.local.Set(name, args) })
}

// setLogOpts changes the rotation of a plugin's output history (plugdbg's
// own endpoint): the body is a JSON object of log options, as --log-opt
// takes them (max-size, max-file); an empty value restores the default.
func (s *Server) setLogOpts(w http.ResponseWriter, r *http.Request, name string) {
	applyJSON(w, r, routeLogOpts, maxLogOptsBody, "a JSON object of log options", func(opts map[string]string) error { return s.local.SetLogOpts(name, opts) })
}

// applyJSON decodes the request's body, which should be want in at most
// limit bytes (see readJSON), hands it to apply and answers 204, or the
// error of either.
func applyJSON[T any](w http.ResponseWriter, r *http.Request, route string, limit int64, want string, apply func(T) error) {
	var v T
	if !readJSON(w, r, route, limit, want, &v) {
		return
	}
	if err := apply(v); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// publish turns publication for dockerd's legacy discovery on (on=1) or
// off (on=0).
func (s *Server) publish(w http.ResponseWriter, r *http.Request, name string) {
	on, err := boolValue(r, "on")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if err := s.local.SetPublish(name, on); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// observe turns the observation of a plugin on (on=1) or off (on=0).
func (s *Server) observe(w http.ResponseWriter, r *http.Request, name string) {
	on, err := boolValue(r, "on")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if err := s.local.SetObserve(r.Context(), name, on); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// calls answers the counters of a running plugin's calls (types.CallStats).
func (s *Server) calls(w http.ResponseWriter, r *http.Request, name string) {
	c, err := s.local.Calls(r.Context(), name)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// events streams lifecycle events as JSON objects, in the shape of the
// Engine API's /events (type "plugin"): the recent ones at or after since,
// then live ones until the client goes away or until passes, those that
// filters select as dockerd's (filters.includeEvent: plugin=, type=,
// event=, …).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		writeErr(w, errkind.Invalid(fmt.Errorf("invalid since: %w", err)))
		return
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		writeErr(w, errkind.Invalid(fmt.Errorf("invalid until: %w", err)))
		return
	}
	if !until.IsZero() && until.Before(since) {
		writeErr(w, errkind.Invalid(fmt.Errorf("`since` time (%s) cannot be after `until` time (%s)", q.Get("since"), q.Get("until"))))
		return
	}
	f, err := decodeFilters(q.Get("filters"))
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	past, ch, cancel := s.local.SubscribeSince(since)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	emit := func(ev events.Message) bool {
		if !until.IsZero() && ev.TimeNano >= until.UnixNano() {
			return false
		}
		if f.includeEvent(ev) {
			if err := enc.Encode(ev); err != nil {
				return false
			}
		}
		return true
	}
	for _, ev := range past {
		if !emit(ev) {
			return
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	var untilC <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		untilC = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-untilC:
			return
		case ev, ok := <-ch:
			if !ok || !emit(ev) {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func boolValue(r *http.Request, key string) (bool, error) {
	v := strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key)))
	switch v {
	case "", "0", "no", "false", "none":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, fmt.Errorf("invalid value %q for query parameter %s", v, key)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr is the API's one error answer: the status of err's kind, from
// errkind's table (500 for an error of no kind), and its message.
func writeErr(w http.ResponseWriter, err error) {
	writeJSON(w, errkind.HTTPStatus(err), map[string]string{"message": err.Error()})
}

// Listen opens the daemon socket at path with mode 0660, refusing to take
// over a socket another daemon still serves (listen.Unix, where the daemon's
// other listeners are opened too).
func Listen(path string) (net.Listener, error) { return listen.Unix(path) }
