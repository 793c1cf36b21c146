// Package dockerobserve observes dockerd's plugins ("docker:NAME"): it
// puts a recording point (package observe) on a docker plugin's socket
// under dockerd's plugin root, so that every call made on it is counted
// and timed, whoever makes it.
//
// No plugdbg monitor runs beside a docker plugin, and a point inside the
// daemon would leave the plugin unreachable once the daemon is killed. So
// each observed docker plugin gets a helper: the daemon's binary
// re-executed with Argv1 in a session of its own, which holds the point
// and its counters and serves them on a root-only control socket. It
// outlives the daemon, which finds it again at its next start. It follows
// the plugin's socket: dockerd removes the plugin's directory whenever the
// plugin exits and makes it again at the next start (a crash restart,
// dockerd's own restart, an enable), and the helper puts the point on each
// new socket the moment it appears (inotify). Its counters are the
// helper's: they go on across the plugin's restarts, and start from zero
// (a new Since) with a new helper.
//
// The daemon side is Manager: it keeps which docker plugins are observed
// (in the data root, so that a reboot keeps them), starts and ends
// helpers, reads their counters, and reconciles them with what dockerd
// says at its start and at each plugin event of dockerd's: a helper runs
// for each observed plugin dockerd has enabled, and for no other.
//
// A helper's files are in the daemon's <exec-root>/docker-observe (0700),
// named by the plugin's ID:
//
//	<id>.json        what to observe (Config), written by the daemon
//	<id>.lock        flocked by the helper for its whole life
//	<id32>.sock      its control socket (HTTP: calls, end, wait), 0600,
//	                 named by the ID's first 32 hex digits (sockIDLen)
//	<id>.point.json  the names the point swapped (record), so that a
//	                 helper killed with its point in place can be undone
//	<id>.log         the helper's stderr
package dockerobserve

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/plugdbg/plugdbg/runtime/observe"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// Argv1 is the hidden first argument that makes the daemon's binary a
// helper: `plugdbgd __plugdbg-docker-observe DIR ID`.
const Argv1 = "__plugdbg-docker-observe"

// argv0 names helpers in ps.
const argv0 = "plugdbg-docker-observe"

// Config is what a helper observes, written by the daemon to <id>.json.
type Config struct {
	ID   string `json:"ID"`   // the plugin's ID in dockerd
	Name string `json:"Name"` // its name, for messages
	// Socket is the plugin's socket on the host:
	// <dockerd's plugin root>/<ID>/<Interface.Socket>.
	Socket string `json:"Socket"`
}

// check refuses a config the helper cannot follow.
func (c Config) check() error {
	if !pluginID.MatchString(c.ID) {
		return fmt.Errorf("invalid plugin ID %q: want 64 hex digits, as dockerd's", c.ID)
	}
	if !filepath.IsAbs(c.Socket) || filepath.Clean(c.Socket) != c.Socket {
		return fmt.Errorf("invalid socket path %q: want a clean absolute path", c.Socket)
	}
	if filepath.Base(filepath.Dir(c.Socket)) != c.ID {
		// The helper watches <root>/<ID> for the socket, and <root> for
		// <ID>: a socket in a subdirectory would be missed.
		return fmt.Errorf("socket %s of plugin %s: not directly in the plugin's directory <root>/%s", c.Socket, c.Name, c.ID)
	}
	if n := len(observe.AsidePath(c.Socket)); n > maxSocketPath {
		return fmt.Errorf("socket %s: the moved socket's path would be %d bytes, over the %d a unix socket allows", c.Socket, n, maxSocketPath)
	}
	return nil
}

var pluginID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// maxSocketPath is the longest path a unix socket can bind (sun_path,
// without its NUL).
const maxSocketPath = 107

// maxConfig bounds what a helper or the daemon reads of a config or
// record file.
const maxConfig = 64 << 10

// record is where a helper's point is: what the names of the plugin's
// socket held once the point was in place. A helper writes it with each
// point it puts in place and removes it with the point; one left behind
// by a killed helper is undone by repair.
type record struct {
	Socket string `json:"Socket"` // the plugin's socket path
	// ProxyIno and ProxyBirth identify the point's socket (fileID), at
	// Socket (or at the trace's aside name, under a trace).
	ProxyIno   uint64 `json:"ProxyIno"`
	ProxyBirth int64  `json:"ProxyBirth,omitempty"`
	// PluginIno and PluginBirth identify the plugin's own socket, at
	// observe.AsidePath(Socket).
	PluginIno   uint64 `json:"PluginIno"`
	PluginBirth int64  `json:"PluginBirth,omitempty"`
}

// files names the files of plugin id's helper in dir.
type files struct{ dir, id string }

func (f files) config() string { return filepath.Join(f.dir, f.id+".json") }
func (f files) lock() string   { return filepath.Join(f.dir, f.id+".lock") }
func (f files) sock() string   { return filepath.Join(f.dir, f.id[:min(sockIDLen, len(f.id))]+".sock") }
func (f files) record() string { return filepath.Join(f.dir, f.id+".point.json") }
func (f files) log() string    { return filepath.Join(f.dir, f.id+".log") }

// sockIDLen is how much of the plugin's ID names its helper's control
// socket: 128 bits tell plugins apart as well as 256, and leave room for a
// longer exec root within a unix socket's 107 bytes.
const sockIDLen = 32

// checkDir refuses a helper directory whose control sockets would not fit
// a unix socket's path.
func checkDir(dir string) error {
	if n := len(files{dir, fmt.Sprintf("%064d", 0)}.sock()); n > maxSocketPath {
		return fmt.Errorf("docker observe: control socket paths under %s would be %d bytes, over the %d a unix socket allows: use a shorter --exec-root", dir, n, maxSocketPath)
	}
	return nil
}

// Status is the state of a helper's recording point.
type Status struct {
	// Recording: the point is in place on the plugin's socket.
	Recording bool `json:"Recording"`
	// Error says why it is not.
	Error string `json:"Error,omitempty"`
}

// traceAside is where a trace moves the socket at path (package tracer):
// under a trace, the point's socket has that name.
func traceAside(path string) string { return tracer.AsidePath(path) }
