// Package apitest serves the real daemon API, over a real manager whose
// executor runs no containers, on a unix socket: enough for tests of the
// API and its clients that create, inspect, set and remove plugins.
package apitest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/logs/follow"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// ErrNoRun is what enabling a plugin returns.
var ErrNoRun = errors.New("this test executor runs no containers")

// noRunExecutor is enough for every call that does not run a plugin.
type noRunExecutor struct{}

func (noRunExecutor) Start(context.Context, string, *specs.Spec, manager.LogConfig) (manager.Run, error) {
	return nil, ErrNoRun
}
func (noRunExecutor) Attach(string) (manager.Run, error) { return nil, monitor.ErrNoMonitor }
func (noRunExecutor) LastExit(string) (types.PluginExit, bool) {
	return types.PluginExit{}, false
}
func (noRunExecutor) Cleanup(string) error { return nil }
func (noRunExecutor) Exec(string, types.ExecConfig, container.Base) (execproto.Process, error) {
	return nil, container.ErrNotRunning
}
func (noRunExecutor) Top(string) (types.Top, error) {
	return types.Top{}, container.ErrNotRunning
}
func (noRunExecutor) Stats(string) (types.Stats, error) {
	return types.Stats{}, container.ErrNotRunning
}

// ShortTempDir is a temp dir with a short path, so that unix socket paths
// below it stay under the 107-byte limit whatever the test's name.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdapi")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Serve starts the API on a fresh manager and returns its socket path. The
// server stops when the test ends.
func Serve(t testing.TB) string {
	t.Helper()
	return serve(t, noRunExecutor{}, nil)
}

// ServeDocker is Serve with h as the dockerd whose plugins are the
// "docker:NAME" targets. h.API may be another apitest server: it answers
// the Engine API paths dockerd.Host reads of a plugin (GET /plugins,
// /plugins/NAME/json), so that a test can stand in for dockerd with
// ServeRunning.
func ServeDocker(t testing.TB, h *dockerd.Host) string {
	t.Helper()
	return serve(t, noRunExecutor{}, h)
}

func serve(t testing.TB, x manager.Executor, docker *dockerd.Host) string {
	t.Helper()
	return serveWith(t, x, docker, Options{}).Socket
}

// Options configure ServeWith.
type Options struct {
	// Running, if set, runs plugins as ServeRunning does, listening on
	// this socket name; else enabling a plugin fails, as with Serve.
	Running string
	// Observer is the manager's (manager.Options.Observer).
	Observer manager.Observer
	// Requests, if set, is told of every request (api.Instrument).
	Requests api.RequestObserver
}

// Served is what ServeWith started.
type Served struct {
	Socket  string // the API's
	Manager *manager.Manager
	Hub     *logs.Hub // the manager's plugin lines
}

// ServeWith is Serve or ServeRunning as o says, and returns the manager
// and the log hub beside the socket.
func ServeWith(t testing.TB, o Options) Served {
	t.Helper()
	var x manager.Executor = noRunExecutor{}
	if o.Running != "" {
		ex := &echoExecutor{socket: o.Running, runs: map[string]*echoRun{}}
		t.Cleanup(ex.stopAll)
		x = ex
	}
	return serveWith(t, x, nil, o)
}

func serveWith(t testing.TB, x manager.Executor, docker *dockerd.Host, o Options) Served {
	t.Helper()
	dir := ShortTempDir(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	hub := new(logs.Hub)
	m, err := manager.New(manager.Options{
		LogHub:   hub,
		DataRoot: filepath.Join(dir, "data"),
		ExecRoot: filepath.Join(dir, "exec"),
		Executor: x,
		Log:      log,
		Observer: o.Observer,
	})
	require.NoError(t, err)
	t.Cleanup(m.Shutdown)
	socket := filepath.Join(dir, "api.sock")
	ln, err := api.Listen(socket)
	require.NoError(t, err)
	h := api.Instrument(api.New(m, follow.New(m, hub), log).WithDocker(docker, nil), o.Requests)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return Served{Socket: socket, Manager: m, Hub: hub}
}
