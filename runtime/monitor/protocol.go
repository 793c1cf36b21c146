// Package monitor is the small per-plugin process that runs one plugin
// container and owns its stdio: it writes every output line to the plugin's
// log file, streams the lines to an attached daemon, and records the exit
// status. Because it runs in its own session, plugins and their output
// outlive a daemon restart or kill -9.
//
// A monitor lives for one run of a container. Its directory holds:
//
//	config.json   what to run (written by the daemon before the start)
//	monitor.lock  flocked by the monitor for its whole life (owner.go)
//	monitor.pid   the monitor's pid and start time, to find and kill it
//	monitor.sock  the control socket (attach, ack, stop; calls, observe, point; trace)
//	monitor.log   the monitor's own stderr, for diagnosing the monitor itself
//	exit.json     the container's exit status, once it has exited
package monitor

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// Argv1 is the hidden first argument that makes the plugdbg binary a monitor.
const Argv1 = "__plugdbg-monitor"

// File names inside a monitor directory.
const (
	configFile = "config.json"
	socketFile = "monitor.sock"
	logFile    = "monitor.log"
	exitFile   = "exit.json"
)

// Config is what a monitor runs.
type Config struct {
	ID        string // container ID, the plugin ID
	StateRoot string // libcontainer state root
	LogPath   string // the plugin's JSON-lines log file, appended to
	// LogMaxSize and LogMaxFiles rotate the log: at most LogMaxFiles files
	// (the current one included) of about LogMaxSize bytes each.
	LogMaxSize  int64
	LogMaxFiles int
	// LogReserve is the free space of the log's filesystem that the log
	// never takes (0: none): lines past it are counted as unstored.
	LogReserve int64       `json:",omitempty"`
	Spec       *specs.Spec // the container's OCI spec
	// MinLastSeq is the last seq the previous run of the plugin gave a
	// line (Start fills it in from the previous exit status): a run numbers
	// its lines after it even if the log file could not store them all
	// (a full disk), so that no two lines share a seq.
	MinLastSeq uint64 `json:",omitempty"`
	// Token is unique to one start. The daemon hands it over with the
	// directory, and a monitor runs only the config that carries it: one
	// handed a directory by a daemon that died, which wakes up after the
	// next daemon started the plugin anew there, leaves that run alone.
	Token string `json:",omitempty"`
	// Socket is the plugin's socket on the host, where an observed run's
	// recording point goes (package observe).
	Socket string `json:",omitempty"`
	// Observe puts the recording point on Socket as soon as the plugin
	// creates it, so that its very first calls are counted.
	Observe bool `json:",omitempty"`
}

// handover is the job the daemon gives a spare monitor, one JSON line on
// its stdin.
type handover struct {
	Dir   string `json:"dir"`
	Token string `json:"token"` // Config.Token
}

// request is what the daemon sends to a monitor, one JSON object per line.
// The first request on a connection is "attach", which makes it the
// attached daemon's (ack, stop and log-limits follow on it), a one-shot
// request (calls, observe, point), answered with one reply line, after
// which the monitor closes the connection, "trace", answered with one
// reply line and followed by a stream of TraceMessage lines until either
// side closes the connection, or "exec", answered with one reply line
// when the process has started (or could not) and one more when it has
// exited. All but attach leave the attached daemon, if any, undisturbed,
// and need none. A monitor of an earlier plugdbg closes a connection whose
// first request it does not know, without a reply.
type request struct {
	Op    string        `json:"op"`              // "attach", "ack", "stop", "log-limits", "calls", "observe", "point", "trace" or "exec"
	Seq   uint64        `json:"seq,omitempty"`   // ack: last entry processed
	Grace time.Duration `json:"grace,omitempty"` // stop: time between SIGTERM and SIGKILL; 0 kills at once
	// log-limits: the log's new rotation limits (Config.LogMaxSize, LogMaxFiles)
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
	// observe: turn the recording point on or off; turning it on waits up
	// to Wait (bounded by maxObserveWait) for the point to be in place.
	On   bool          `json:"on,omitempty"`
	Wait time.Duration `json:"wait,omitempty"`
	// trace: the newest version of the trace stream the daemon reads.
	Version int `json:"version,omitempty"`
	// exec: the process to start; its files come in the same message.
	Exec *ExecSpec `json:"exec,omitempty"`
}

// ExecSpec is a process for a monitor to start in its container. Its files
// come with the request, as SCM_RIGHTS of the message that carries the
// request's first byte, in this order: stdin if Stdin, then stdout and
// stderr, or instead of all three the console socket if Terminal (the
// terminal's master goes there); then Extra more, which the process gets
// as fds 3 and up.
type ExecSpec struct {
	Args     []string `json:"args"`
	Env      []string `json:"env,omitempty"`
	Cwd      string   `json:"cwd"`
	UID      int      `json:"uid"`
	GID      int      `json:"gid"`
	Groups   []int    `json:"groups,omitempty"`
	Stdin    bool     `json:"stdin,omitempty"`
	Terminal bool     `json:"terminal,omitempty"`
	Height   uint16   `json:"height,omitempty"`
	Width    uint16   `json:"width,omitempty"`
	Extra    int      `json:"extra,omitempty"`
}

// files is how many files come with s.
func (s *ExecSpec) files() int {
	n := 2
	switch {
	case s.Terminal:
		n = 1
	case s.Stdin:
		n = 3
	}
	return n + s.Extra
}

// execStarted names a started exec process: its PID on the host and its
// start time (clock ticks after boot), which together name it even after
// the PID is reused.
type execStarted struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// reply answers a one-shot request, or starts a trace stream.
type reply struct {
	Calls    *types.CallStats `json:"calls,omitempty"`
	Observe  *ObserveStatus   `json:"observe,omitempty"` // observe, point
	Trace    *traceStart      `json:"trace,omitempty"`
	Exec     *execStarted     `json:"exec,omitempty"`
	ExecExit *types.ExecExit  `json:"execExit,omitempty"` // the second reply to exec
	// NotRunning comes with Error when an exec finds the container no
	// longer running.
	NotRunning bool   `json:"notRunning,omitempty"`
	Error      string `json:"error,omitempty"`
}

// ObserveStatus is the state of a run's recording point.
type ObserveStatus struct {
	On        bool   `json:"on"`              // the run is to be observed
	Recording bool   `json:"recording"`       // the point is in place
	Error     string `json:"error,omitempty"` // why it is not, though On
	// Traces counts the trace streams attached to the point: while there
	// are none, the point records no call.
	Traces int `json:"traces,omitempty"`
}

// traceVersion is the version of the trace stream this monitor writes and
// this daemon reads: the lines that follow the reply to a trace request.
// A daemon asks for the newest it reads, a monitor answers with the one it
// writes, which is no newer.
const traceVersion = 1

// traceStart is the reply that starts a trace stream: from then on, every
// call whose request line passes the point is recorded.
type traceStart struct {
	Version int    `json:"version"`
	Socket  string `json:"socket"` // the plugin's socket the point is on
}

// TraceMessage is one line of a trace stream, after its reply.
type TraceMessage struct {
	// Record is a call that passed the recording point.
	Record *types.TraceRecord `json:"record,omitempty"`
	// Lost counts records the monitor dropped, after those it sent before,
	// because the daemon read them too slowly.
	Lost uint64 `json:"lost,omitempty"`
	// End comes last: why the monitor ended the stream. A stream that
	// ends without one ended with its connection.
	End TraceEnd `json:"end,omitempty"`
}

// TraceEnd says why a monitor ended a trace stream.
type TraceEnd string

const (
	// TraceRemoved: the recording point was removed (observe --off); the
	// plugin's own socket is back at its path.
	TraceRemoved TraceEnd = "removed"
	// TraceExited: the plugin exited, and with it the run's point.
	TraceExited TraceEnd = "exited"
)

// Message is what a monitor streams to an attached daemon.
type Message struct {
	// Hello is the first message after attach.
	Hello *Hello `json:"hello,omitempty"`
	// Lines are output lines in order, continuing from the last ack.
	Lines []logs.Entry `json:"lines,omitempty"`
	// Skipped counts lines the monitor could not keep in memory for a
	// daemon that was away or slow: seqs SkippedAfter+1 to
	// SkippedAfter+Skipped, which come before Lines. They are in the log
	// file, unless it could not take them.
	Skipped      uint64 `json:"skipped,omitempty"`
	SkippedAfter uint64 `json:"skippedAfter,omitempty"`
	// Unstored counts, for the whole run, the lines the log file could not
	// take (a full disk, an unwritable log dir); sent when it grows.
	Unstored uint64 `json:"unstored,omitempty"`
	// Exit comes last, after every line.
	Exit *types.PluginExit `json:"exit,omitempty"`
}

// Hello describes the running container.
type Hello struct {
	Pid       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
	// Phases is where the monitor's start of the container went, in
	// order; only Launcher.Start reports it.
	Phases []Phase `json:"phases,omitempty"`
}

// Phase is one step of a container start and how long it took.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// phaseClock records consecutive phases from its start.
type phaseClock struct {
	last   time.Time
	phases []Phase
}

func newPhaseClock() *phaseClock { return &phaseClock{last: time.Now()} }

// mark ends the current phase under name and starts the next.
func (c *phaseClock) mark(name string) {
	now := time.Now()
	c.phases = append(c.phases, Phase{Name: name, Duration: now.Sub(c.last)})
	c.last = now
}

// startResult is what a new monitor reports on its stdout once the
// container runs, or why it could not start it.
type startResult struct {
	Pid       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Error     string    `json:"error,omitempty"`
	Phases    []Phase   `json:"phases,omitempty"`
}
