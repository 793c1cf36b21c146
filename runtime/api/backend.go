package api

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/manager"
)

// Backend is what the API does with any plugin it serves, whoever runs it:
// plugdbg's own plugins (the manager) and dockerd's ("docker:NAME",
// docker.go). The handlers pick a Backend once from the reference and then
// run the same code for both: the checks before an exec's upgrade, the
// stats sampling, the log and trace streams.
//
// ref is a plugin's name, ID or ID prefix as the backend resolves it,
// without the "docker:" prefix. Errors carry the kinds writeErr maps to
// HTTP statuses (NotFound, Conflict, InvalidParameter, ...); an error of no
// kind is a 500. Every method may be called concurrently.
type Backend interface {
	// List returns every plugin.
	List(ctx context.Context) ([]types.Inspect, error)
	// Inspect returns plugin ref.
	Inspect(ctx context.Context, ref string) (types.Inspect, error)
	// Exec starts c in running plugin ref; the caller drives the process
	// with execproto.Serve. A command that cannot be started is an
	// *execproto.StartError, reported in the session's Exit frame; any
	// other error is reported before the upgrade. ctx bounds the start
	// only, not the process.
	Exec(ctx context.Context, ref string, c types.ExecConfig) (execproto.Process, error)
	// Top lists the processes of running plugin ref.
	Top(ctx context.Context, ref string) (types.Top, error)
	// Stats samples the cgroup counters of running plugin ref.
	Stats(ctx context.Context, ref string) (types.Stats, error)
	// Logs sends plugin ref's lines selected by o to send, in order, from
	// one goroutine, until the history is out or, with o.Follow, until ctx
	// ends or o.Until passes. ref "" is every plugin (the local runtime
	// only). The signature is manager.Manager.Logs'.
	Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error
	// Trace puts a recording proxy on running plugin ref's socket for as
	// long as ctx lasts: started(socket) once the proxy listens (again if
	// it moves to a restarted plugin's new socket), then fn with each call,
	// until ctx ends or fn fails. An error before started is an ordinary
	// error answer.
	Trace(ctx context.Context, ref string, started func(socket string), fn func(types.TraceRecord) error) error
	// Usage says what holds plugin ref; calls adds the recent calls a
	// trace saw, where the backend keeps them.
	Usage(ctx context.Context, ref string, calls bool) (types.Usage, error)
	// Calls reads the counters of observed plugin ref's calls, as its
	// recording point counted them (manager.Manager.Calls; for dockerd's
	// plugins, their helper's).
	Calls(ctx context.Context, ref string) (types.CallStats, error)
}

// Lifecycle is what only plugdbg's own runtime does: install, configure,
// start, stop and remove plugins, and report its events. dockerd's plugins
// are changed with docker; their paths for these answer 404, as an
// unknown action does.
type Lifecycle interface {
	Create(ctx context.Context, name string, buildContext io.Reader) (id string, err error)
	Enable(ctx context.Context, ref string, timeout time.Duration) error
	Disable(ctx context.Context, ref string, force bool) error
	Remove(ctx context.Context, ref string, force bool) error
	Set(ref string, args []string) error
	SetLogOpts(ref string, opts map[string]string) error
	SetPublish(ref string, on bool) error
	// SetObserve observes a plugin (manager.Manager.SetObserve);
	// dockerd's are observed apart (serveDocker).
	SetObserve(ctx context.Context, ref string, on bool) error
	Privileges(ctx context.Context, remote string, auth registry.AuthConfig) (plugin.Privileges, error)
	PullName(remote, name string) (string, error)
	Pull(ctx context.Context, o manager.PullOptions) (id string, err error)
	Push(ctx context.Context, ref string, auth registry.AuthConfig, progress distribution.ProgressFunc) (types.PushResult, error)
	Upgrade(ctx context.Context, ref string, o manager.UpgradeOptions) error
	SubscribeSince(since time.Time) ([]events.Message, <-chan events.Message, func())
}

// Runtime is the local runtime: a Backend with the Lifecycle.
type Runtime interface {
	Backend
	Lifecycle
}

// managerRuntime is the manager as a Runtime, with the follower of its
// plugins' logs. Its lifecycle methods and Trace are the manager's own, Logs
// the follower's; the rest only drop the context, which the manager has no
// use for (its lookups are in memory).
type managerRuntime struct {
	*manager.Manager
	Follower
}

var (
	_ Runtime = managerRuntime{}
	_ Backend = (*dockerBackend)(nil)
)

func (m managerRuntime) List(context.Context) ([]types.Inspect, error) { return m.Manager.List(), nil }

func (m managerRuntime) Inspect(_ context.Context, ref string) (types.Inspect, error) {
	return m.Manager.Inspect(ref)
}

func (m managerRuntime) Exec(_ context.Context, ref string, c types.ExecConfig) (execproto.Process, error) {
	return m.Manager.Exec(ref, c)
}

func (m managerRuntime) Top(_ context.Context, ref string) (types.Top, error) {
	return m.Manager.Top(ref)
}

func (m managerRuntime) Stats(_ context.Context, ref string) (types.Stats, error) {
	return m.Manager.Stats(ref)
}

func (m managerRuntime) Usage(_ context.Context, ref string, calls bool) (types.Usage, error) {
	return m.Manager.Usage(ref, calls)
}
