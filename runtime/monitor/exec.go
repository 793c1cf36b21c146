package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/internal/fdpass"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// A monitor starts the daemon's exec processes in its container: it
// already holds the container, and its binary, sealed once when it
// started, becomes each process's init until the command is executed. The
// daemon's binary is three times larger, slower to start, and would be
// sealed anew for every exec.

// maxRequestFiles bounds the files one request may carry: stdin, stdout
// and stderr, and the toolbox, with room to spare.
const maxRequestFiles = 8

// firstRead is the buffer for a connection's first read, which takes the
// files that came with the request; a longer request goes on in later
// reads.
const firstRead = 16 << 10

// readFirst reads what the peer sent first on conn, with the files that
// came with it.
func readFirst(conn net.Conn) ([]byte, []*os.File, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		b := make([]byte, firstRead)
		n, err := conn.Read(b)
		return b[:n], nil, err
	}
	b := make([]byte, firstRead)
	oob := make([]byte, unix.CmsgSpace(maxRequestFiles*4))
	n, oobn, flags, _, err := uc.ReadMsgUnix(b, oob) // MSG_CMSG_CLOEXEC on Linux
	files, ferr := parseRights(oob[:oobn])
	switch {
	case err != nil:
	case flags&unix.MSG_CTRUNC != 0:
		err = fmt.Errorf("more than %d files came with the request", maxRequestFiles)
	case ferr != nil:
		err = ferr
	}
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	return b[:n], files, nil
}

// parseRights returns the files of the SCM_RIGHTS messages in oob.
func parseRights(oob []byte) ([]*os.File, error) {
	files, err := fdpass.Files(oob, func(fd int) string { return fmt.Sprintf("request-fd-%d", fd) })
	if err != nil {
		return nil, fmt.Errorf("the request's %w", err)
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// exec serves an exec request: it starts the process in the container,
// answers with its PID, waits for it and answers with how it ended. A
// connection that ends first, which only a daemon that died ends, takes
// the process with it: nothing of an exec outlives its session. rest is
// what the daemon sends after the request, read only to see it end.
func (m *monitor) exec(conn net.Conn, rest io.Reader, spec *ExecSpec, files []*os.File) {
	defer func() { closeFiles(files) }() // the process has its own copies
	answer := func(r reply) error { return writeReply(conn, r) }
	if spec == nil || len(spec.Args) == 0 {
		_ = answer(reply{Error: "exec: no command"})
		return
	}
	if len(files) != spec.files() {
		_ = answer(reply{Error: fmt.Sprintf("exec: %d files came with the request, %d were expected", len(files), spec.files())})
		return
	}
	p := &libcontainer.Process{
		Args: spec.Args, Env: spec.Env, Cwd: spec.Cwd,
		UID: spec.UID, GID: spec.GID, AdditionalGroups: spec.Groups,
	}
	rest0 := files
	if spec.Terminal {
		p.ConsoleSocket, p.ConsoleHeight, p.ConsoleWidth = files[0], spec.Height, spec.Width
		rest0 = files[1:]
	} else {
		if spec.Stdin {
			p.Stdin, rest0 = files[0], files[1:]
		}
		p.Stdout, p.Stderr, rest0 = rest0[0], rest0[1], rest0[2:]
	}
	p.ExtraFiles = rest0

	pid, err := m.startExec(p)
	closeFiles(files)
	files = nil
	switch {
	case errors.Is(err, errInitExited):
		_ = answer(reply{Error: err.Error(), NotRunning: true})
		return
	case err != nil:
		_ = answer(reply{Error: err.Error()})
		return
	}
	defer m.execs.Done()
	// Not waited for yet, the process is this monitor's child: its PID
	// names it, and its start time will name it once it is reaped.
	info, _ := setns.ReadProcInfo(pid)
	exited := make(chan struct{})
	if err := answer(reply{Exec: &execStarted{Pid: pid, Start: info.Start}}); err != nil {
		_ = p.Signal(unix.SIGKILL)
	} else {
		go func() {
			_, _ = io.Copy(io.Discard, rest)
			select {
			case <-exited:
			default:
				m.killExec(pid)
			}
		}()
	}
	ps, werr := p.Wait()
	close(exited)
	setns.Done(pid)
	exit := setns.ExitOf(ps, werr)
	_ = answer(reply{ExecExit: &exit})
}

// killExec kills an exec whose daemon went away: its process and every
// process of its group (setns.GroupOf), until none is left; a process may
// fork between the listing of the group and its kill. It gives up after
// a bounded number of rounds on processes that SIGKILL does not end
// (stuck in the kernel), which the plugin's stop still ends.
func (m *monitor) killExec(pid int) {
	const rounds = 100
	for range rounds {
		if n, err := setns.SignalGroup(m.container, pid, unix.SIGKILL); err != nil || n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// errInitExited refuses an exec once the container's init has exited.
var errInitExited = errors.New("container is not running (its init has exited)")

// startExec starts p in the container unless its init has exited, and
// counts it in m.execs until its session ends.
func (m *monitor) startExec(p *libcontainer.Process) (int, error) {
	m.execMu.RLock()
	defer m.execMu.RUnlock()
	if m.initExited {
		return 0, errInitExited
	}
	pid, err := setns.Start(m.container, p)
	if err != nil {
		setns.ReapStrays()
		return 0, err
	}
	m.execs.Add(1)
	return pid, nil
}

// awaitInit waits for the container's init to exit, and then for the
// execs being started, before the init is reaped: until then its PID,
// whose namespaces an exec joins, cannot name another process. Execs
// asked for later are refused.
func (m *monitor) awaitInit(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	m.execMu.Lock()
	m.initExited = true
	m.execMu.Unlock()
}

// writeReply writes r as one line.
func writeReply(w io.Writer, r reply) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
