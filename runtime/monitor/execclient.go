package monitor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// ErrExecNotRunning is an exec the monitor refused because its container
// no longer runs.
var ErrExecNotRunning = errors.New("the container no longer runs")

// ExecProcess is a process that a monitor started in its container for
// the daemon, and still waits for. Its stdio is the daemon's: the files
// passed to Exec.
type ExecProcess struct {
	conn  *net.UnixConn
	r     *bufio.Reader
	pid   int
	start uint64
	close sync.Once
}

// Exec has the monitor in dir start p in its container, with p's files,
// which must be *os.File. It returns an error wrapping ErrEarlierMonitor
// from a monitor that cannot exec, ErrNoMonitor if none answers, and one
// wrapping ErrExecNotRunning once the container's init has exited; any
// other error says why the process could not be started. The process
// lives as long as the returned ExecProcess is not closed: closing it
// before the process has exited, or a daemon that dies, kills it.
func Exec(dir string, p *libcontainer.Process) (_ *ExecProcess, retErr error) {
	spec, files, err := execSpec(p)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("unix", filepath.Join(dir, socketFile), oneShotTimeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	conn := c.(*net.UnixConn)
	defer func() {
		if retErr != nil {
			conn.Close()
		}
	}()
	// A start takes as long as the container's init needs to set the
	// process up; bounded, so that a stuck monitor does not hold the exec.
	_ = conn.SetDeadline(time.Now().Add(oneShotTimeout))
	req, err := json.Marshal(request{Op: "exec", Exec: spec})
	if err != nil {
		return nil, err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	// The files ride on the request's first byte. A stream socket may
	// take less than a long request (a large environment) in that one
	// message; the rest follows without them.
	req = append(req, '\n')
	n, _, err := conn.WriteMsgUnix(req, unix.UnixRights(fds...), nil)
	if err == nil && n < len(req) {
		_, err = conn.Write(req[n:])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	r := bufio.NewReader(conn)
	var rep reply
	switch err := readReply(r, &rep); {
	case errors.Is(err, io.EOF):
		// A monitor of an earlier plugdbg closes a connection whose first
		// request it does not know.
		return nil, fmt.Errorf("monitor %s: no answer to exec: %w", dir, ErrEarlierMonitor)
	case err != nil:
		return nil, fmt.Errorf("monitor %s: exec: %w", dir, err)
	case rep.NotRunning:
		return nil, fmt.Errorf("%w: %s", ErrExecNotRunning, rep.Error)
	case rep.Error != "":
		return nil, errors.New(rep.Error)
	case rep.Exec == nil || rep.Exec.Pid <= 0:
		return nil, fmt.Errorf("monitor %s: no process in the reply to exec", dir)
	}
	_ = conn.SetDeadline(time.Time{})
	return &ExecProcess{conn: conn, r: r, pid: rep.Exec.Pid, start: rep.Exec.Start}, nil
}

// execSpec describes p for the monitor, with the files that go with it.
func execSpec(p *libcontainer.Process) (*ExecSpec, []*os.File, error) {
	spec := &ExecSpec{
		Args: p.Args, Env: p.Env, Cwd: p.Cwd,
		UID: p.UID, GID: p.GID, Groups: p.AdditionalGroups,
		Extra: len(p.ExtraFiles),
	}
	var files []*os.File
	add := func(name string, v any) error {
		f, ok := v.(*os.File)
		if !ok || f == nil {
			return fmt.Errorf("exec through the monitor: the process's %s is not a file", name)
		}
		files = append(files, f)
		return nil
	}
	if p.ConsoleSocket != nil {
		spec.Terminal, spec.Height, spec.Width = true, p.ConsoleHeight, p.ConsoleWidth
		files = append(files, p.ConsoleSocket)
	} else {
		if p.Stdin != nil {
			spec.Stdin = true
			if err := add("stdin", p.Stdin); err != nil {
				return nil, nil, err
			}
		}
		if err := add("stdout", p.Stdout); err != nil {
			return nil, nil, err
		}
		if err := add("stderr", p.Stderr); err != nil {
			return nil, nil, err
		}
	}
	files = append(files, p.ExtraFiles...)
	if len(files) > maxRequestFiles {
		return nil, nil, fmt.Errorf("exec through the monitor: %d files, at most %d", len(files), maxRequestFiles)
	}
	return spec, files, nil
}

// maxReply bounds a reply line to an exec.
const maxReply = 64 << 10

func readReply(r *bufio.Reader, rep *reply) error {
	line, err := readLine(r, maxReply)
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, rep); err != nil {
		return fmt.Errorf("a bad reply: %w", err)
	}
	return nil
}

// Pid is the process's PID on the host.
func (x *ExecProcess) Pid() int { return x.pid }

// Signal sends sig to the process, unless it has exited and been reaped.
func (x *ExecProcess) Signal(sig syscall.Signal) error {
	if !setns.SignalPid(x.pid, x.start, sig) {
		return os.ErrProcessDone
	}
	return nil
}

// Wait waits for the process to exit. If its monitor goes away first,
// the exit status is lost: Wait says so.
func (x *ExecProcess) Wait() types.ExecExit {
	for {
		var rep reply
		if err := readReply(x.r, &rep); err != nil {
			return types.ExecExit{ExitCode: 1, Error: fmt.Sprintf("wait: the plugin's monitor went away (%v)", err)}
		}
		if rep.ExecExit != nil {
			return *rep.ExecExit
		}
	}
}

// Close ends the session with the monitor: a process still running is
// killed.
func (x *ExecProcess) Close() error {
	err := net.ErrClosed
	x.close.Do(func() { err = x.conn.Close() })
	return err
}
