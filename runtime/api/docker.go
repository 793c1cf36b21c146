package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// Docker interop. The plugins of a real dockerd are targets named
// "docker:NAME" (NAME as dockerd resolves it: name, ID or ID prefix):
// GET /plugins?docker=1 lists them, and /plugins/docker:NAME/{json, exec,
// top, stats, trace, logs, usage} work as for plugdbg's own plugins.

// WithDocker lets the API reach dockerd h; tb (may be nil) serves exec.
func (s *Server) WithDocker(h *dockerd.Host, tb *container.Toolbox) *Server {
	s.docker, s.toolbox = h, tb
	return s
}

func (s *Server) dockerInspect(p plugin.Plugin) types.Inspect {
	st := types.State{Status: types.StatusDisabled, Socket: s.docker.Socket(p)}
	if p.Enabled {
		st.Status = types.StatusRunning
	}
	return types.Inspect{Plugin: p, State: st, LogConfig: types.LogConfigView{Type: "dockerd", Config: map[string]string{}}}
}

func (s *Server) dockerList(w http.ResponseWriter, r *http.Request) {
	if s.docker == nil {
		writeErr(w, errkind.NotImplemented(errors.New("the daemon has no dockerd to talk to")))
		return
	}
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	ps, err := s.docker.Plugins(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	out := []types.Inspect{}
	for _, p := range ps {
		ok, err := f.match(p)
		if err != nil {
			writeErr(w, errkind.Invalid(err))
			return
		}
		if ok {
			out = append(out, s.dockerInspect(p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// dockerPlugin serves the actions on dockerd's plugin ref.
func (s *Server) dockerPlugin(w http.ResponseWriter, r *http.Request, ref, action string) {
	if s.docker == nil {
		writeErr(w, errkind.NotImplemented(errors.New("the daemon has no dockerd to talk to")))
		return
	}
	if action == "usage" && r.Method == http.MethodGet {
		u, err := s.docker.Usage(r.Context(), ref)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
		return
	}
	p, err := s.docker.Plugin(r.Context(), ref)
	if err != nil {
		writeErr(w, err)
		return
	}
	running := func(verb string) bool {
		if !p.Enabled {
			writeErr(w, errkind.Conflict(fmt.Errorf("cannot %s dockerd's plugin %s: it is disabled", verb, p.Name)))
		}
		return p.Enabled
	}
	switch {
	case action == "json" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.dockerInspect(p))
	case action == "exec" && r.Method == http.MethodPost:
		s.serveExec(w, r, p.Name, func(c types.ExecConfig) (execproto.Process, error) {
			if len(c.Cmd) == 0 || c.Cmd[0] == "" {
				return nil, errkind.Invalid(errors.New("exec needs a command"))
			}
			if !p.Enabled {
				return nil, errkind.Conflict(fmt.Errorf("cannot exec in dockerd's plugin %s: it is disabled", p.Name))
			}
			proc, err := s.docker.Exec(p, c, s.toolbox)
			if errors.Is(err, container.ErrNotRunning) || errors.Is(err, container.ErrNoToolbox) {
				return nil, errkind.Conflict(fmt.Errorf("exec in dockerd's plugin %s: %w", p.Name, err))
			}
			return proc, err
		})
	case action == "top" && r.Method == http.MethodGet:
		if !running("list processes of") {
			return
		}
		t, err := s.docker.Top(p)
		if err != nil {
			writeErr(w, fmt.Errorf("list processes of dockerd's plugin %s: %w", p.Name, err))
			return
		}
		writeJSON(w, http.StatusOK, t)
	case action == "stats" && r.Method == http.MethodGet:
		if !running("read stats of") {
			return
		}
		prev, err := s.docker.Stats(p)
		if err != nil {
			writeErr(w, fmt.Errorf("read stats of dockerd's plugin %s: %w", p.Name, err))
			return
		}
		time.Sleep(statsOnce)
		cur, err := s.docker.Stats(p)
		if err != nil {
			writeErr(w, fmt.Errorf("read stats of dockerd's plugin %s: %w", p.Name, err))
			return
		}
		writeJSON(w, http.StatusOK, types.StatsReport{ID: p.ID, Name: p.Name, Stats: cur, CPUPercent: container.CPUPercent(prev, cur)})
	case action == "trace" && r.Method == http.MethodGet:
		if !running("trace") {
			return
		}
		s.dockerTrace(w, r, p)
	case action == "logs" && r.Method == http.MethodGet:
		o, err := parseLogOptions(r)
		if err != nil {
			writeErr(w, errkind.Invalid(err))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		err = s.docker.Logs(r.Context(), p.ID, p.Name, o, func(l types.LogLine) error {
			if err := enc.Encode(l); err != nil {
				return err
			}
			if flusher != nil && o.Follow {
				flusher.Flush()
			}
			return nil
		})
		if err != nil {
			_ = enc.Encode(map[string]string{"error": err.Error()})
		}
	default:
		writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path)))
	}
}

// dockerTrace puts a recording proxy on the socket of dockerd's plugin p
// for as long as the request lasts, streaming its records as JSON lines
// after the start line, as trace does.
func (s *Server) dockerTrace(w http.ResponseWriter, r *http.Request, p plugin.Plugin) {
	sock := s.docker.Socket(p)
	ch := make(chan types.TraceRecord, 4096)
	proxy, err := tracer.Start(sock, func(rec types.TraceRecord) {
		select {
		case ch <- rec:
		default: // a watcher this slow loses records; the calls go on
		}
	})
	if err != nil {
		writeErr(w, errkind.Conflict(fmt.Errorf("trace dockerd's plugin %s: %w", p.Name, err)))
		return
	}
	s.log.WithField("plugin", p.ID).Infof("trace: proxy on dockerd's plugin socket %s", sock)
	defer func() {
		if err := proxy.Stop(); err != nil {
			s.log.WithField("plugin", p.ID).WithError(err).Error("trace: restore dockerd's plugin socket")
		}
	}()
	st := newTraceStream(w)
	if st.started(sock) != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case rec := <-ch:
			if st.send(rec) != nil {
				return
			}
		}
	}
}

// usage says what holds plugdbg's plugin name, from its traces; calls=1
// adds the trace's recent calls.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, name string) {
	calls, err := boolValue(r, "calls")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	u, err := s.m.Usage(name, calls)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// publish turns publication for dockerd's legacy discovery on (on=1) or
// off (on=0).
func (s *Server) publish(w http.ResponseWriter, r *http.Request, name string) {
	on, err := boolValue(r, "on")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if err := s.m.SetPublish(name, on); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
