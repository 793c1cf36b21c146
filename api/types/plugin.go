package types

import (
	"strconv"
	"time"

	"github.com/moby/moby/api/types/plugin"

	"github.com/moby/moby/api/types/events"
)

// Status values shown in a plugin's State.
const (
	StatusDisabled   = "disabled"
	StatusStarting   = "starting"
	StatusRunning    = "running"
	StatusRestarting = "restarting"
	StatusStopping   = "stopping"
)

// State is what plugdbg adds to Docker's inspect output.
type State struct {
	Status       string      `json:"Status"`
	Pid          int         `json:"Pid,omitempty"`
	StartedAt    *time.Time  `json:"StartedAt,omitempty"`
	RestartCount int         `json:"RestartCount"`
	LastExit     *PluginExit `json:"LastExit,omitempty"`
	NextRestart  *time.Time  `json:"NextRestart,omitempty"`
	Error        string      `json:"Error,omitempty"`
	// UnstoredLines counts output lines the plugin's log file could not
	// take (a full disk, an unwritable log dir); they reached the daemon
	// log and live followers only.
	UnstoredLines uint64 `json:"UnstoredLines"`
	Socket        string `json:"Socket"`
	LogPath       string `json:"LogPath"`
	// Published is the link dockerd's legacy discovery finds the plugin
	// by, if it is published (interop.go).
	Published string `json:"Published,omitempty"`
	// StaleTrace says why the plugin's socket is still moved aside by a
	// trace that ended with its daemon: the daemon's start, a trace or a
	// start of the plugin puts it back, and this stays until one could.
	StaleTrace string `json:"StaleTrace,omitempty"`
	// Observed: the plugin is set to be observed (plugdbg observe, or the
	// daemon's --observe-all): while it runs, a recording point on its
	// socket counts and times every call (CallStats).
	Observed bool `json:"Observed"`
	// Recording: the recording point is in place on the running plugin's
	// socket, as its monitor last reported it.
	Recording bool `json:"Recording"`
	// ObserveError says why an observed plugin's recording point is not
	// in place.
	ObserveError string `json:"ObserveError,omitempty"`
}

// Inspect is Docker's plugin object with plugdbg's State beside it.
type Inspect struct {
	plugin.Plugin
	State     State         `json:"State"`
	LogConfig LogConfigView `json:"LogConfig"`
}

// LogConfig in inspect shows the rotation of a plugin's output history,
// in the shape of Docker's HostConfig.LogConfig: the options in effect,
// the daemon's defaults filled in.
type LogConfigView struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// Actions plugdbg emits beside Docker's own (create, enable, disable, remove).
const (
	ActionExit       events.Action = "exit"
	ActionRestarting events.Action = "restarting"
	ActionRestart    events.Action = "restart"
	ActionSet        events.Action = "set"
)

// ActionCall is the event of one plugin call seen by a trace; its
// attributes are method, status, latency (nanoseconds), conn and err.
const ActionCall events.Action = "call"

// PluginExit is how a plugin's container ended.
type PluginExit struct {
	ExitCode int       `json:"ExitCode"`
	Signal   string    `json:"Signal,omitempty"` // e.g. "SIGKILL" when killed by a signal
	ExitedAt time.Time `json:"ExitedAt"`
	// Error is set when the status could not be observed, e.g. when the
	// monitor itself died; ExitCode is then -1.
	Error string `json:"Error,omitempty"`
	// AckedSeq is the last line a daemon processed: a daemon that was away
	// when the plugin exited replays the later ones from the log file.
	AckedSeq uint64 `json:"AckedSeq,omitempty"`
	// LastSeq is the seq of the run's last line, stored or not.
	LastSeq uint64 `json:"LastSeq,omitempty"`
	// Requested: a daemon asked for the stop (disable, or a start given
	// up), so the exit is not a crash even if that daemon died before it
	// recorded why.
	Requested bool `json:"Requested,omitempty"`
}

// String renders the status for messages: "exit code 3" or "signal SIGKILL".
func (s PluginExit) String() string {
	switch {
	case s.Error != "":
		return "unknown exit status: " + s.Error
	case s.Signal != "":
		return "killed by signal " + s.Signal
	default:
		return "exit code " + strconv.Itoa(s.ExitCode)
	}
}
