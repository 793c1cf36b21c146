package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/plugin"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/dockerobserve"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// Docker interop. The plugins of a real dockerd are targets named
// "docker:NAME" (NAME as dockerd resolves it: name, ID or ID prefix):
// GET /plugins?docker=1 lists them, and /plugins/docker:NAME/{json, exec,
// connect, top, stats, trace, logs, usage} go through the same handlers as
// plugdbg's own plugins, with dockerBackend as their Backend. Of the
// lifecycle's endpoints they have observe and calls (serveDocker), through
// runtime/dockerobserve's helpers.
//
// The adapter lives here rather than in runtime/dockerd because what it
// adds to dockerd.Host is the API's: the inspect view of a dockerd plugin,
// the error kinds writeErr maps (dockerd's "not found" and a container
// that does not run become NotFound and Conflict), the exec toolbox and
// the trace proxy the daemon wires in. runtime/dockerd stays a client of
// one dockerd that knows nothing of plugdbg's HTTP API.

// WithDocker lets the API reach dockerd h; tb (may be nil) serves exec.
func (s *Server) WithDocker(h *dockerd.Host, tb *container.Toolbox) *Server {
	s.docker = nil
	if h != nil {
		s.docker = &dockerBackend{host: h, toolbox: tb, log: s.log}
	}
	return s
}

// WithDockerObserve lets dockerd's plugins be observed through o (observe,
// calls, and the State of inspect); call it after WithDocker, before
// serving. Without it, observing a docker:NAME target is not implemented.
func (s *Server) WithDockerObserve(o *dockerobserve.Manager) *Server {
	if d, ok := s.docker.(*dockerBackend); ok {
		d.observe = o
	}
	return s
}

// errNoDockerObserve answers observe and calls of a docker:NAME target
// when the daemon cannot observe dockerd's plugins.
var errNoDockerObserve = errors.New("this daemon cannot observe dockerd's plugins")

// serveDocker serves what dockerd's plugins have of the lifecycle's
// endpoints: observe and calls; any other action is not found.
func (s *Server) serveDocker(w http.ResponseWriter, r *http.Request, ref, action string) {
	d, _ := s.docker.(*dockerBackend)
	switch {
	case d != nil && action == "observe" && r.Method == http.MethodPost:
		on, err := boolValue(r, "on")
		if err == nil {
			err = d.setObserve(r.Context(), ref, on)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case d != nil && action == "calls" && r.Method == http.MethodGet:
		c, err := d.Calls(r.Context(), ref)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	default:
		writeErr(w, errkind.NotFound(fmt.Errorf("page not found: %s %s", r.Method, r.URL.Path)))
	}
}

// dockerBackend is dockerd's plugins as a Backend. It keeps no state: each
// call asks dockerd for the plugin, so a plugin enabled, disabled or
// removed with docker is seen at once.
type dockerBackend struct {
	host    *dockerd.Host
	toolbox *container.Toolbox     // may be nil
	observe *dockerobserve.Manager // nil: dockerd's plugins cannot be observed
	log     *logrus.Logger
}

func (d *dockerBackend) plugin(ctx context.Context, ref string) (plugin.Plugin, error) {
	p, err := d.host.Plugin(ctx, ref)
	return p, err
}

// running refuses to verb plugin p unless dockerd has it enabled.
func running(p plugin.Plugin, verb string) error {
	if !p.Enabled {
		return errkind.Conflict(fmt.Errorf("cannot %s dockerd's plugin %s: it is disabled", verb, p.Name))
	}
	return nil
}

func (d *dockerBackend) inspect(ctx context.Context, p plugin.Plugin) types.Inspect {
	st := types.State{Status: types.StatusDisabled, Socket: d.host.Socket(p)}
	if p.Enabled {
		st.Status = types.StatusRunning
	}
	if d.observe != nil {
		var ost dockerobserve.Status
		st.Observed, ost = d.observe.Status(ctx, p)
		st.Recording, st.ObserveError = ost.Recording, ost.Error
	}
	return types.Inspect{Plugin: p, State: st, LogConfig: types.LogConfigView{Type: "dockerd", Config: map[string]string{}}}
}

// setObserve turns the observation of dockerd's plugin ref on or off
// (dockerobserve.Manager.Set): kept while dockerd has the plugin, applied
// whenever dockerd runs it.
func (d *dockerBackend) setObserve(ctx context.Context, ref string, on bool) error {
	if d.observe == nil {
		return errkind.NotImplemented(errNoDockerObserve)
	}
	p, err := d.plugin(ctx, ref)
	if err != nil {
		return err
	}
	return d.observe.Set(ctx, p, on)
}

// Calls answers the counters of running dockerd plugin ref's calls.
func (d *dockerBackend) Calls(ctx context.Context, ref string) (types.CallStats, error) {
	if d.observe == nil {
		return types.CallStats{}, errkind.NotImplemented(errNoDockerObserve)
	}
	p, err := d.plugin(ctx, ref)
	if err == nil {
		err = running(p, "read the calls of")
	}
	if err != nil {
		return types.CallStats{}, err
	}
	return d.observe.Calls(ctx, p)
}

func (d *dockerBackend) List(ctx context.Context) ([]types.Inspect, error) {
	ps, err := d.host.Plugins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]types.Inspect, 0, len(ps))
	for _, p := range ps {
		out = append(out, d.inspect(ctx, p))
	}
	return out, nil
}

func (d *dockerBackend) Inspect(ctx context.Context, ref string) (types.Inspect, error) {
	p, err := d.plugin(ctx, ref)
	if err != nil {
		return types.Inspect{}, err
	}
	return d.inspect(ctx, p), nil
}

// Exec starts c through dockerd's runc root, with the plugin's settings as
// its environment (dockerd.Host.Exec).
func (d *dockerBackend) Exec(ctx context.Context, ref string, c types.ExecConfig) (execproto.Process, error) {
	p, err := d.plugin(ctx, ref)
	if err != nil {
		return nil, err
	}
	if len(c.Cmd) == 0 || c.Cmd[0] == "" {
		return nil, errkind.Invalid(errors.New("exec needs a command"))
	}
	if err := running(p, "exec in"); err != nil {
		return nil, err
	}
	proc, err := d.host.Exec(p, c, d.toolbox)
	if errors.Is(err, container.ErrNotRunning) || errors.Is(err, container.ErrNoToolbox) {
		return nil, errkind.Conflict(fmt.Errorf("exec in dockerd's plugin %s: %w", p.Name, err))
	}
	return proc, err
}

func (d *dockerBackend) Top(ctx context.Context, ref string) (types.Top, error) {
	p, err := d.plugin(ctx, ref)
	if err == nil {
		err = running(p, "list processes of")
	}
	if err != nil {
		return types.Top{}, err
	}
	t, err := d.host.Top(p)
	if err != nil {
		return t, fmt.Errorf("list processes of dockerd's plugin %s: %w", p.Name, err)
	}
	return t, nil
}

func (d *dockerBackend) Stats(ctx context.Context, ref string) (types.Stats, error) {
	p, err := d.plugin(ctx, ref)
	if err == nil {
		err = running(p, "read stats of")
	}
	if err != nil {
		return types.Stats{}, err
	}
	st, err := d.host.Stats(p)
	if err != nil {
		return st, fmt.Errorf("read stats of dockerd's plugin %s: %w", p.Name, err)
	}
	return st, nil
}

// Logs reads the plugin's lines from dockerd's log (dockerd.Host.Logs).
func (d *dockerBackend) Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error {
	p, err := d.plugin(ctx, ref)
	if err != nil {
		return err
	}
	return d.host.Logs(ctx, p.ID, p.Name, o, send)
}

// traceBuffer is how many records wait for a slow watcher before the
// proxy drops the next ones (the plugin's calls go on regardless).
const traceBuffer = 4096

// Trace puts the recording proxy on the socket of dockerd's plugin. Unlike
// the manager's, it does not follow a restart: dockerd's plugin comes back
// with a new socket the proxy does not know of, and the trace goes on
// idle until the client leaves.
func (d *dockerBackend) Trace(ctx context.Context, ref string, started func(socket string), fn func(types.TraceRecord) error) error {
	p, err := d.plugin(ctx, ref)
	if err == nil {
		err = running(p, "trace")
	}
	if err != nil {
		return err
	}
	sock := d.host.Socket(p)
	ch := make(chan types.TraceRecord, traceBuffer)
	proxy, err := tracer.Start(sock, func(rec types.TraceRecord) {
		select {
		case ch <- rec:
		default: // a watcher this slow loses records; the calls go on
		}
	})
	if err != nil {
		return errkind.Conflict(fmt.Errorf("trace dockerd's plugin %s: %w", p.Name, err))
	}
	log := d.log.WithField("plugin", p.ID)
	log.Infof("trace: proxy on dockerd's plugin socket %s", sock)
	defer func() {
		if err := proxy.Stop(); err != nil {
			log.WithError(err).Error("trace: restore dockerd's plugin socket")
		}
	}()
	started(sock)
	for {
		select {
		case <-ctx.Done():
			return nil
		case rec := <-ch:
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
}

// Usage lists dockerd's volumes and networks that hold the plugin; dockerd
// keeps no record of calls, so calls adds nothing.
func (d *dockerBackend) Usage(ctx context.Context, ref string, _ bool) (types.Usage, error) {
	u, err := d.host.Usage(ctx, ref)
	return u, err
}
