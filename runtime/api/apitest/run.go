package apitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/spec"
)

// ServeRunning is Serve with an executor that runs each plugin it starts
// as an HTTP server in the test process, listening on socket (the name the
// plugins' config declares) in the plugin's socket directory. It answers
// Plugin.Activate as a volume driver would, and every other call with
// {"Echo": <the request body>}. The plugins stop when the test ends.
func ServeRunning(t testing.TB, socket string) string {
	t.Helper()
	x := &echoExecutor{socket: socket, runs: map[string]*echoRun{}}
	t.Cleanup(x.stopAll)
	return serve(t, x, nil)
}

type echoExecutor struct {
	noRunExecutor
	socket string

	mu     sync.Mutex
	starts int
	runs   map[string]*echoRun
}

type echoRun struct {
	srv    *http.Server
	hello  monitor.Hello
	exited chan struct{} // closed when the plugin has stopped
	once   sync.Once

	mu   sync.Mutex
	told bool // Next reported the exit
}

func (x *echoExecutor) Start(_ context.Context, id string, s *specs.Spec, _ manager.LogConfig) (manager.Run, error) {
	var dir string
	for _, m := range s.Mounts {
		if m.Destination == spec.SocketDirInPlugin {
			dir = m.Source
		}
	}
	if dir == "" {
		return nil, errors.New("apitest: the spec mounts no socket directory")
	}
	ln, err := net.Listen("unix", filepath.Join(dir, x.socket))
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"Implements":["VolumeDriver"]}`)
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Fprintf(w, `{"Echo":%q}`, body)
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	x.starts++
	r := &echoRun{srv: &http.Server{Handler: mux}, exited: make(chan struct{}),
		hello: monitor.Hello{Pid: 1000 + x.starts, StartedAt: time.Now()}}
	go func() { _ = r.srv.Serve(ln) }()
	x.runs[id] = r
	return r, nil
}

func (x *echoExecutor) Attach(id string) (manager.Run, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.runs[id]; ok {
		return r, nil
	}
	return nil, monitor.ErrNoMonitor
}

func (x *echoExecutor) Exec(string, types.ExecConfig, container.Base) (execproto.Process, error) {
	return nil, container.ErrNotRunning
}

func (x *echoExecutor) stopAll() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range x.runs {
		r.Stop(0)
	}
}

func (r *echoRun) Hello() monitor.Hello { return r.hello }

// Next blocks until the plugin stops, then reports its exit once and the
// end of the run after.
func (r *echoRun) Next() (monitor.Message, error) {
	<-r.exited
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.told {
		return monitor.Message{}, io.EOF
	}
	r.told = true
	return monitor.Message{Exit: &types.PluginExit{ExitedAt: time.Now()}}, nil
}

func (r *echoRun) Ack(uint64) {}

func (r *echoRun) Stop(time.Duration) {
	r.once.Do(func() {
		_ = r.srv.Close()
		close(r.exited)
	})
}

func (r *echoRun) Close() error { return nil }
