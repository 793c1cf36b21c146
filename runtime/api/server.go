// Package api serves the daemon's HTTP API on a unix socket: the Docker
// Engine API's plugin subset (same paths, query parameters, JSON shapes,
// status codes and {"message": ...} errors), so that the stock docker CLI
// works against plugdbg, and plugdbg's own endpoints beside it.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/version"
)

// Server is the daemon's API.
type Server struct {
	m        *manager.Manager
	follower Follower
	log      *logrus.Logger

	docker  *dockerd.Host      // dockerd whose plugins are "docker:NAME" (docker.go); nil: none
	toolbox *container.Toolbox // for exec into dockerd's plugins
}

// New returns the API for m, whose plugins' lines f streams.
func New(m *manager.Manager, f Follower, log *logrus.Logger) *Server {
	return &Server{m: m, follower: f, log: log}
}

// versionPrefix is compiled on first use: every CLI process links this
// package, and compiling at init would cost each of them.
var versionPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`) })

// ServeHTTP routes a request. Plugin names contain slashes, so routing is
// done by hand rather than with ServeMux patterns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if loc := versionPrefix().FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	w.Header().Set("Api-Version", version.APIVersion)
	w.Header().Set("Server", "plugdbg/"+version.Version)
	switch {
	case path == "/_ping":
		s.ping(w, r)
	case path == "/version" && r.Method == http.MethodGet:
		s.version(w)
	case path == "/events" && r.Method == http.MethodGet:
		s.events(w, r)
	case path == "/logs" && r.Method == http.MethodGet:
		s.logs(w, r, "")
	case path == "/plugins" && r.Method == http.MethodGet && r.URL.Query().Has("docker"):
		s.dockerList(w, r)
	case path == "/plugins" && r.Method == http.MethodGet:
		s.list(w, r)
	case path == "/plugins/create" && r.Method == http.MethodPost:
		s.create(w, r)
	case path == "/plugins/privileges" && r.Method == http.MethodGet:
		s.privileges(w, r)
	case path == "/plugins/pull" && r.Method == http.MethodPost:
		s.pull(w, r)
	case strings.HasPrefix(path, "/plugins/"):
		s.plugin(w, r, strings.TrimPrefix(path, "/plugins/"))
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path))
	}
}

func (s *Server) plugin(w http.ResponseWriter, r *http.Request, rest string) {
	name, action := rest, ""
	if r.Method != http.MethodDelete {
		i := strings.LastIndex(rest, "/")
		if i < 0 {
			writeError(w, http.StatusNotFound, fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path))
			return
		}
		name, action = rest[:i], rest[i+1:]
	}
	if name == "" || name == dockerd.Prefix {
		// Not a lookup of "": as an ID prefix it would match every plugin.
		writeError(w, http.StatusNotFound, fmt.Errorf("page not found: %s %s (no plugin name)", r.Method, r.URL.Path))
		return
	}
	if r.Method == http.MethodDelete {
		s.remove(w, r, name)
		return
	}
	if ref, ok := strings.CutPrefix(name, dockerd.Prefix); ok {
		s.dockerPlugin(w, r, ref, action)
		return
	}
	switch {
	case action == "json" && r.Method == http.MethodGet:
		s.inspect(w, name)
	case action == "exec" && r.Method == http.MethodPost:
		s.exec(w, r, name)
	case action == "top" && r.Method == http.MethodGet:
		s.top(w, name)
	case action == "stats" && r.Method == http.MethodGet:
		s.stats(w, r, name)
	case action == "enable" && r.Method == http.MethodPost:
		s.enable(w, r, name)
	case action == "disable" && r.Method == http.MethodPost:
		s.disable(w, r, name)
	case action == "logs" && r.Method == http.MethodGet:
		s.logs(w, r, name)
	case action == "set" && r.Method == http.MethodPost:
		s.set(w, r, name)
	case action == "push" && r.Method == http.MethodPost:
		s.push(w, r, name)
	case action == "upgrade" && r.Method == http.MethodPost:
		s.upgrade(w, r, name)
	case action == "log-opts" && r.Method == http.MethodPost:
		s.setLogOpts(w, r, name)
	case action == "trace" && r.Method == http.MethodGet:
		s.trace(w, r, name)
	case action == "usage" && r.Method == http.MethodGet:
		s.usage(w, r, name)
	case action == "publish" && r.Method == http.MethodPost:
		s.publish(w, r, name)
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path))
	}
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

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	out := []types.Inspect{}
	for _, p := range s.m.List() {
		ok, err := f.match(p.Plugin)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if ok {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) inspect(w http.ResponseWriter, name string) {
	p, err := s.m.Inspect(name)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if _, err := s.m.Create(r.Context(), r.URL.Query().Get("name"), r.Body); err != nil {
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
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid timeout %q: must be a number of seconds", t))
			return
		}
		timeout = time.Duration(secs) * time.Second
	}
	if err := s.m.Enable(r.Context(), name, timeout); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) disable(w http.ResponseWriter, r *http.Request, name string) {
	force, err := boolValue(r, "force")
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.m.Disable(r.Context(), name, force); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, name string) {
	force, err := boolValue(r, "force")
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.m.Remove(r.Context(), name, force); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) set(w http.ResponseWriter, r *http.Request, name string) {
	applyJSON(w, r, routeSet, maxSetBody, "a JSON array of KEY=VALUE strings", func(args []string) error { return s.m.Set(name, args) })
}

// setLogOpts changes the rotation of a plugin's output history (plugdbg's
// own endpoint): the body is a JSON object of log options, as --log-opt
// takes them (max-size, max-file); an empty value restores the default.
func (s *Server) setLogOpts(w http.ResponseWriter, r *http.Request, name string) {
	applyJSON(w, r, routeLogOpts, maxLogOptsBody, "a JSON object of log options", func(opts map[string]string) error { return s.m.SetLogOpts(name, opts) })
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

// events streams lifecycle events as JSON objects, in the shape of the
// Engine API's /events (type "plugin"): the recent ones at or after since,
// then live ones until the client goes away or until passes. A type filter
// without "plugin" selects nothing, as dockerd would for plugdbg's events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("invalid since: %w", err))
		return
	}
	until, err := parseTime(q.Get("until"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("invalid until: %w", err))
		return
	}
	onlyOthers := false
	if raw := q.Get("filters"); raw != "" {
		var f map[string]map[string]bool
		if err := json.Unmarshal([]byte(raw), &f); err == nil && len(f["type"]) > 0 && !f["type"]["plugin"] {
			onlyOthers = true
		}
	}
	past, ch, cancel := s.m.SubscribeSince(since)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	emit := func(ev events.Message) bool {
		if !until.IsZero() && ev.TimeNano >= until.UnixNano() {
			return false
		}
		if !onlyOthers {
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

// writeErr maps the manager's error kinds to HTTP status codes, in one place.
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case manager.IsNotFound(err):
		status = http.StatusNotFound
	case manager.IsTooLarge(err): // before IsInvalid: a build context over its bounds is both
		status = http.StatusRequestEntityTooLarge
	case manager.IsConflict(err):
		status = http.StatusConflict
	case manager.IsInvalid(err):
		status = http.StatusBadRequest
	case distribution.IsUnauthorized(err):
		status = http.StatusUnauthorized
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusRequestTimeout
	}
	writeError(w, status, err)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"message": err.Error()})
}

// Listen opens the daemon socket at path with mode 0660, refusing to take
// over a socket another daemon still serves.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another daemon is listening on %s", path)
	}
	_ = os.Remove(path)
	old := unix.Umask(0o117)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
