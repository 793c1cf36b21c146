package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/manager"
)

// registryAuth reads X-Registry-Auth; an invalid one counts as none, as in
// dockerd.
func registryAuth(r *http.Request) registry.AuthConfig {
	a, err := authconfig.Decode(r.Header.Get(registry.AuthHeader))
	if err != nil || a == nil {
		return registry.AuthConfig{}
	}
	return *a
}

// streamMessage is one line of Docker's JSON progress stream. The "error"
// string is what older docker clients read beside errorDetail.
type streamMessage struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// progressStream writes Docker's JSON progress stream. Until the first
// message the answer is still open, so an early error gets a plain HTTP
// error status, as in dockerd (ioutils.WriteFlusher.Flushed).
type progressStream struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	enc     *json.Encoder
	started bool
	// kinds puts the error's kind in its message, as the status it would
	// have had. Only for plugdbg's client: dockerd sets no code, and the
	// docker CLI shows a 401 as "authentication is required" alone.
	kinds bool
}

func newProgressStream(w http.ResponseWriter) *progressStream {
	return &progressStream{w: w, enc: json.NewEncoder(w)}
}

func (s *progressStream) send(m streamMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	_ = s.enc.Encode(m)
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *progressStream) progress(e distribution.Event) {
	m := streamMessage{Message: jsonstream.Message{ID: e.ID, Status: e.Status}}
	if e.Total > 0 || e.Current > 0 {
		m.Progress = &jsonstream.Progress{Current: e.Current, Total: e.Total}
	}
	s.send(m)
}

// finish ends the stream with err, if any.
func (s *progressStream) finish(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		writeErr(s.w, err)
		return
	}
	e := &jsonstream.Error{Message: err.Error()}
	if s.kinds {
		e.Code = errkind.HTTPStatus(err)
	}
	s.send(streamMessage{Message: jsonstream.Message{Error: e}, ErrorMessage: err.Error()})
}

// privileges answers GET /plugins/privileges?remote=REF.
func (s *Server) privileges(w http.ResponseWriter, r *http.Request) {
	privs, err := s.local.Privileges(r.Context(), r.URL.Query().Get("remote"), registryAuth(r))
	if err != nil {
		writeErr(w, err)
		return
	}
	if privs == nil {
		privs = plugin.Privileges{}
	}
	writeJSON(w, http.StatusOK, privs)
}

// readPrivileges decodes the accepted privileges of a pull or upgrade; no
// body at all accepts none. It answers the request itself when the body is
// refused and then reports false.
func readPrivileges(w http.ResponseWriter, r *http.Request, route string) (plugin.Privileges, bool) {
	var privs plugin.Privileges
	if r.ContentLength == 0 {
		return privs, true
	}
	if err := decodeBody(w, r, route, maxPrivilegesBody, &privs); err != nil && !errors.Is(err, errBodyEmpty) {
		writeBodyError(w, err, "invalid body: want a JSON array of privileges")
		return nil, false
	}
	return privs, true
}

// pull answers POST /plugins/pull?remote=REF&name=NAME with the progress
// of the install, the local name in Docker-Plugin-Name.
func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	privs, ok := readPrivileges(w, r, routePull)
	if !ok {
		return
	}
	q := r.URL.Query()
	name, err := s.local.PullName(q.Get("remote"), q.Get("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Docker-Plugin-Name", name)
	ps := newProgressStream(w)
	_, err = s.local.Pull(r.Context(), manager.PullOptions{
		Remote: q.Get("remote"), Name: name, Privileges: privs, Auth: registryAuth(r), Progress: ps.progress,
	})
	ps.finish(err)
}

// push answers POST /plugins/{name}/push with the progress of the push,
// ending with an aux message {Tag, Digest, Size}.
func (s *Server) push(w http.ResponseWriter, r *http.Request, name string) {
	ps := newProgressStream(w)
	res, err := s.local.Push(r.Context(), name, registryAuth(r), ps.progress)
	if err == nil {
		aux, _ := json.Marshal(res)
		raw := json.RawMessage(aux)
		ps.send(streamMessage{Message: jsonstream.Message{Aux: &raw}})
	}
	ps.finish(err)
}

// upgrade answers POST /plugins/{name}/upgrade?remote=REF.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, name string) {
	privs, ok := readPrivileges(w, r, routeUpgrade)
	if !ok {
		return
	}
	w.Header().Set("Docker-Plugin-Name", name)
	ps := newProgressStream(w)
	err := s.local.Upgrade(r.Context(), name, manager.UpgradeOptions{
		Remote: r.URL.Query().Get("remote"), Privileges: privs, Auth: registryAuth(r), Progress: ps.progress,
	})
	ps.finish(err)
}
