package manager

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// Executor runs plugin containers. The manager depends on nothing else to
// run plugins, so that its logic can be tested with a fake.
type Executor interface {
	// Start runs a container for plugin id, its output kept as lc says,
	// and returns it attached.
	Start(ctx context.Context, id string, spec *specs.Spec, lc LogConfig) (Run, error)
	// Attach reattaches to a container started earlier, possibly by an
	// earlier daemon. It returns monitor.ErrNoMonitor if none runs.
	Attach(id string) (Run, error)
	// LastExit returns the exit status a finished run left behind.
	LastExit(id string) (types.PluginExit, bool)
	// Cleanup kills and removes whatever is left of plugin id's container.
	Cleanup(id string) error
	// Exec starts a process in plugin id's running container, with base
	// as the plugin's own environment, directory and user. It returns
	// container.ErrNotRunning if the container does not run, and an
	// *execproto.StartError for a command that cannot be started.
	Exec(id string, c types.ExecConfig, base container.Base) (execproto.Process, error)
	// Top lists the processes of plugin id's running container.
	Top(id string) (types.Top, error)
	// Stats samples the cgroup counters of plugin id's running container.
	Stats(id string) (types.Stats, error)
}

// LogConfig says where and how a plugin's output is kept, and whether its
// calls are: what a run keeps of the plugin beside the plugin itself.
type LogConfig struct {
	Path     string // the current log file; rotated ones are Path.1, Path.2, …
	MaxSize  int64  // rotate when the file would grow past this
	MaxFiles int    // files kept, the current one included
	Reserve  int64  // free bytes of the log's filesystem it leaves alone
	// Socket is the plugin's socket on the host. With Observe, a run
	// whose executor is an ObservingExecutor counts its calls from the first: the
	// recording point goes on the socket as soon as the plugin creates it.
	Socket  string
	Observe bool
}

// Run is one attached run of a plugin container.
type Run interface {
	Hello() monitor.Hello
	Next() (monitor.Message, error)
	Ack(seq uint64)
	Stop(grace time.Duration)
	Close() error
}

// MonitorExecutor runs each plugin under a monitor process (see package
// monitor), so that plugins outlive the daemon.
type MonitorExecutor struct {
	Launcher  *monitor.Launcher  // starts monitors under Launcher.Root/<id>
	StateRoot string             // libcontainer's state root
	Toolbox   *container.Toolbox // for exec into plugins without a shell; nil: none
}

func (x *MonitorExecutor) dir(id string) string { return filepath.Join(x.Launcher.Root, id) }

// Start implements Executor.
func (x *MonitorExecutor) Start(ctx context.Context, id string, spec *specs.Spec, lc LogConfig) (Run, error) {
	_, err := x.Launcher.Start(ctx, x.dir(id), monitor.Config{
		ID: id, StateRoot: x.StateRoot, Spec: spec,
		LogPath: lc.Path, LogMaxSize: lc.MaxSize, LogMaxFiles: lc.MaxFiles, LogReserve: lc.Reserve,
		Socket: lc.Socket, Observe: lc.Observe,
	})
	if err != nil {
		return nil, err
	}
	return monitor.Attach(x.dir(id))
}

// Prewarm boots the spare monitor the next Start takes.
func (x *MonitorExecutor) Prewarm() { x.Launcher.Prewarm() }

// Attach implements Executor.
func (x *MonitorExecutor) Attach(id string) (Run, error) {
	c, err := monitor.Attach(x.dir(id))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// LastExit implements Executor.
func (x *MonitorExecutor) LastExit(id string) (types.PluginExit, bool) {
	s, err := monitor.ReadExit(x.dir(id))
	return s, err == nil
}

// Cleanup implements Executor: it kills the plugin's monitor, if one
// runs, then its container and whatever a start cut short left in its
// cgroups, and removes the container's state, its cgroups and the monitor
// directory.
func (x *MonitorExecutor) Cleanup(id string) error {
	return monitor.Cleanup(x.dir(id), x.StateRoot, id)
}

// Observe implements ObservingExecutor.
func (x *MonitorExecutor) Observe(ctx context.Context, id string, on bool) (monitor.ObserveStatus, error) {
	return monitor.Observe(ctx, x.dir(id), on)
}

// Calls implements ObservingExecutor.
func (x *MonitorExecutor) Calls(ctx context.Context, id string) (types.CallStats, error) {
	return monitor.Calls(ctx, x.dir(id))
}

// Exec implements Executor. The plugin's monitor starts the process, as
// its child (monitor.Exec); where no monitor can (one of an earlier
// plugdbg, or none), the daemon starts it itself.
func (x *MonitorExecutor) Exec(id string, c types.ExecConfig, base container.Base) (execproto.Process, error) {
	p, err := container.Exec(x.StateRoot, id, c, base, x.Toolbox, monitorRunner{dir: x.dir(id)})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// monitorRunner starts exec processes through the plugin's monitor.
type monitorRunner struct{ dir string }

// Run implements container.Runner.
func (r monitorRunner) Run(ct *libcontainer.Container, p *libcontainer.Process) (container.Started, error) {
	x, err := monitor.Exec(r.dir, p)
	switch {
	case errors.Is(err, monitor.ErrEarlierMonitor), errors.Is(err, monitor.ErrNoMonitor):
		// No monitor that can: the container may run on without one
		// (a monitor killed), and the daemon can still start the
		// process; if the container does not run, that start says so.
		return container.LocalRunner{}.Run(ct, p)
	case errors.Is(err, monitor.ErrExecNotRunning):
		return nil, fmt.Errorf("%w: %v", container.ErrNotRunning, err)
	case err != nil:
		return nil, err
	}
	return x, nil
}

// Top implements Executor.
func (x *MonitorExecutor) Top(id string) (types.Top, error) {
	return container.Processes(x.StateRoot, id)
}

// Stats implements Executor.
func (x *MonitorExecutor) Stats(id string) (types.Stats, error) {
	return container.ReadStats(x.StateRoot, id)
}
