// Package container works on a plugin's running container from the daemon,
// through libcontainer: exec (with the toolbox for plugins whose rootfs
// holds no shell), the process list and cgroup statistics.
package container

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/console"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/internal/fdpass"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// ErrNotRunning is an exec, top or stats on a container that does not run;
// its kind is Conflict, as the container's state forbids the operation.
var ErrNotRunning = errkind.Conflict(errors.New("container is not running"))

// toolboxFd is the fd number of the toolbox clone in an exec'd process
// (its ExtraFiles[0]).
const toolboxFd = 3

// ToolboxPath is how a toolbox process sees the toolbox.
var ToolboxPath = fmt.Sprintf("/proc/self/fd/%d", toolboxFd)

// Base is what an exec inherits from the plugin's own process.
type Base struct {
	Env      []string // the plugin's environment
	Cwd      string
	UID, GID uint32
}

// load returns the running container id.
func load(stateRoot, id string) (*libcontainer.Container, error) {
	ct, err := libcontainer.Load(stateRoot, id)
	if errors.Is(err, libcontainer.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("load container: %w", err)
	}
	// libcontainer does not refuse to exec into a stopped container (it
	// would run on the host): check the state first.
	st, err := ct.Status()
	if err != nil {
		return nil, fmt.Errorf("container status: %w", err)
	}
	if st != libcontainer.Running {
		return nil, fmt.Errorf("%w (%s)", ErrNotRunning, st)
	}
	return ct, nil
}

// Exec starts c.Cmd in container id through run. A command found neither
// in the container nor in tb (which may be nil) gives a
// *execproto.StartError with exit code 127. The returned process is
// driven by execproto.Serve.
func Exec(stateRoot, id string, c types.ExecConfig, base Base, tb *Toolbox, run Runner) (_ *Process, retErr error) {
	if len(c.Cmd) == 0 || c.Cmd[0] == "" {
		return nil, errors.New("no command given")
	}
	ct, err := load(stateRoot, id)
	if err != nil {
		return nil, err
	}
	state, err := ct.State()
	if err != nil {
		return nil, fmt.Errorf("container state: %w", err)
	}
	root, err := openRoot(state.InitProcessPid)
	if errors.Is(err, fs.ErrNotExist) {
		// The init exited between the state check and here: the plugin
		// crashed or is being stopped.
		return nil, fmt.Errorf("%w (its init %d has exited)", ErrNotRunning, state.InitProcessPid)
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()

	env := mergeEnv(base.Env, c.Env)
	cwd := base.Cwd
	if c.WorkingDir != "" {
		cwd = c.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not an absolute path", cwd)
	}
	u, err := resolveUser(root, c.User, base)
	if err != nil {
		return nil, err
	}
	if u.Home != "" && envValue(env, "HOME") == "" {
		env = append(env, "HOME="+u.Home)
	}

	args := append([]string{}, c.Cmd...)
	useToolbox := c.Toolbox
	if !useToolbox && !lookInRoot(root, args[0], envValue(env, "PATH"), cwd) {
		if tb == nil || !tb.Has(path.Base(args[0])) {
			msg := fmt.Sprintf("exec: %q: executable file not found in the plugin's rootfs (PATH=%s)", args[0], envValue(env, "PATH"))
			if tb != nil {
				msg += " nor in the toolbox"
			}
			return nil, &execproto.StartError{ExitCode: 127, Msg: msg}
		}
		useToolbox = true
	}
	p := &libcontainer.Process{
		Cwd: cwd, UID: u.Uid, GID: u.Gid, AdditionalGroups: u.Sgids,
	}
	var toolbox *os.File
	if useToolbox {
		if tb == nil {
			return nil, ErrNoToolbox
		}
		name := path.Base(args[0])
		if !tb.Has(name) {
			return nil, &execproto.StartError{ExitCode: 127, Msg: fmt.Sprintf("exec: %q: not in the toolbox (see `plugdbg exec PLUGIN --toolbox busybox --list`)", name)}
		}
		if toolbox, err = tb.Open(); err != nil {
			return nil, err
		}
		defer toolbox.Close() // the process has its own copy
		args[0] = ToolboxPath + "/" + name
		env = setEnv(env, "PATH", ToolboxPath+prefixColon(envValue(env, "PATH")))
		p.ExtraFiles = []*os.File{toolbox}
	}
	p.Args, p.Env = args, env

	proc := &Process{p: p, ct: ct, tty: c.Tty, attach: c.AttachStdin}
	defer func() {
		if retErr != nil {
			proc.Close()
		}
	}()
	var afterRun func() error
	if c.Tty {
		afterRun, err = proc.setupTTY(c)
	} else {
		afterRun, err = proc.setupPipes(c.AttachStdin)
	}
	if err != nil {
		return nil, err
	}
	// Check once more right before the exec: the plugin may have stopped.
	if st, err := ct.Status(); err != nil || st != libcontainer.Running {
		return nil, ErrNotRunning
	}
	started, runErr := run.Run(ct, p)
	if runErr == nil {
		proc.started = started
	}
	if err := afterRun(); err != nil && runErr == nil {
		_ = proc.Signal(unix.SIGKILL)
		proc.Wait()
		return nil, err
	}
	if runErr != nil {
		// A start that fails because the plugin died meanwhile says so in
		// libcontainer's words ("procReady not received", …), which tell
		// the user nothing more than that.
		if errors.Is(runErr, ErrNotRunning) || dying(ct, state.InitProcessPid) {
			return nil, ErrNotRunning
		}
		return nil, startError(args[0], runErr)
	}
	proc.toolbox = useToolbox
	return proc, nil
}

// dying reports whether the container has stopped or its init, initPid,
// has begun to exit (libcontainer still says running then).
func dying(ct *libcontainer.Container, initPid int) bool {
	if st, err := ct.Status(); err != nil || st != libcontainer.Running {
		return true
	}
	p, err := setns.ReadProcInfo(initPid)
	return err != nil || p.Exiting()
}

// startError classifies a failed Run as a shell would: 127 for a missing
// command, 126 for one that cannot be run.
func startError(cmd string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrNotExist) || strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return &execproto.StartError{ExitCode: 127, Msg: fmt.Sprintf("exec %s: %s", cmd, msg)}
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied"):
		return &execproto.StartError{ExitCode: 126, Msg: fmt.Sprintf("exec %s: %s", cmd, msg)}
	}
	return &execproto.StartError{ExitCode: 126, Msg: fmt.Sprintf("exec %s: %s", cmd, msg)}
}

// Process is an exec'd process; it implements execproto.Process.
type Process struct {
	p       *libcontainer.Process // what was asked for
	started Started               // what runs
	ct      *libcontainer.Container
	tty     bool
	attach  bool // stdin attached
	toolbox bool

	stdin          *os.File // write end, nil if not attached
	stdout, stderr *os.File // read ends; stderr nil with a TTY
	pty            console.Console
	closers        []io.Closer // everything to close at the end
}

// UsesToolbox reports whether the process runs from the toolbox.
func (x *Process) UsesToolbox() bool { return x.toolbox }

func (x *Process) setupPipes(attachStdin bool) (func() error, error) {
	var childEnds []*os.File
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			x.closers = append(x.closers, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	x.stdout, x.stderr = outR, errR
	x.p.Stdout, x.p.Stderr = outW, errW
	childEnds = append(childEnds, outW, errW)
	if attachStdin {
		inR, inW, err := pipe()
		if err != nil {
			return nil, err
		}
		x.p.Stdin, x.stdin = inR, inW
		childEnds = append(childEnds, inR)
	}
	return func() error {
		for _, f := range childEnds {
			f.Close()
		}
		return nil
	}, nil
}

func (x *Process) setupTTY(c types.ExecConfig) (func() error, error) {
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return nil, err
	}
	x.closers = append(x.closers, parent, child)
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := recvFile(parent)
		ch <- result{f, err}
	}()
	x.p.ConsoleSocket = child
	x.p.ConsoleHeight, x.p.ConsoleWidth = c.Height, c.Width
	if c.Height == 0 || c.Width == 0 {
		x.p.ConsoleHeight, x.p.ConsoleWidth = 24, 80
	}
	return func() error {
		child.Close()
		var r result
		select {
		case r = <-ch:
		case <-time.After(10 * time.Second):
			parent.Close()
			r = <-ch
			if r.err == nil {
				r.f.Close()
				r.err = errors.New("timeout")
			}
		}
		parent.Close()
		if r.err != nil {
			return fmt.Errorf("receive the exec's terminal: %w", r.err)
		}
		x.closers = append(x.closers, r.f)
		pty, err := console.ConsoleFromFile(r.f)
		if err != nil {
			return fmt.Errorf("exec terminal: %w", err)
		}
		x.pty = pty
		return nil
	}, nil
}

// recvFile receives one fd sent with SCM_RIGHTS on socket.
func recvFile(socket *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	sc, err := socket.SyscallConn()
	if err != nil {
		return nil, err
	}
	var n, oobn int
	var rerr error
	err = sc.Control(func(fd uintptr) {
		for {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), name, oob, unix.MSG_CMSG_CLOEXEC)
			if !errors.Is(rerr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if n == 0 && oobn == 0 {
		return nil, errors.New("no terminal sent: the exec failed before creating it")
	}
	files, err := fdpass.Files(oob[:oobn], func(int) string { return string(name[:n]) })
	if err != nil {
		return nil, err // the caller says whose
	}
	if len(files) == 0 {
		return nil, errors.New("no fd in the console message")
	}
	for _, f := range files[1:] {
		_ = f.Close()
	}
	return files[0], nil
}

// Stdin implements execproto.Process.
func (x *Process) Stdin() io.WriteCloser {
	switch {
	case x.tty && x.attach:
		return ptyInput{x.pty}
	case x.stdin != nil:
		return x.stdin
	}
	return nil
}

// ptyInput writes to the terminal; closing it sends the terminal's EOF
// character (Ctrl-D), as a user at a terminal would, not a hang-up.
type ptyInput struct{ c console.Console }

func (p ptyInput) Write(b []byte) (int, error) { return p.c.Write(b) }
func (p ptyInput) Close() error                { _, err := p.c.Write([]byte{4}); return err }

// Output implements execproto.Process.
func (x *Process) Output() (stdout, stderr io.Reader) {
	if x.tty {
		return eioReader{x.pty}, nil
	}
	return x.stdout, x.stderr
}

// eioReader turns a terminal's EIO, which is how its end shows once every
// process on it has gone, into io.EOF.
type eioReader struct{ r io.Reader }

func (e eioReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, unix.EIO) || errors.Is(err, os.ErrClosed) {
		err = io.EOF
	}
	return n, err
}

// Resize implements execproto.Process.
func (x *Process) Resize(ws types.WindowSize) error {
	if x.pty == nil {
		return errors.New("no terminal to resize")
	}
	return x.pty.Resize(console.WinSize{Height: ws.Height, Width: ws.Width})
}

// Signal implements execproto.Process.
func (x *Process) Signal(sig syscall.Signal) error { return x.started.Signal(sig) }

// Pid is the process's host PID.
func (x *Process) Pid() int { return x.started.Pid() }

// Wait implements execproto.Process.
func (x *Process) Wait() types.ExecExit { return x.started.Wait() }

// Close implements execproto.Process.
func (x *Process) Close() error {
	if x.started != nil {
		_ = x.started.Close()
	}
	for _, c := range x.closers {
		_ = c.Close()
	}
	x.closers = nil
	return nil
}

// openRoot opens the container's root directory as its init sees it, with
// its mounts.
func openRoot(initPid int) (*os.File, error) {
	p := fmt.Sprintf("/proc/%d/root", initPid)
	f, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open container root: %w", err)
	}
	return f, nil
}

// openInRoot opens name inside root, resolving symlinks and ".." as the
// container would, never escaping it.
func openInRoot(root *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), strings.TrimPrefix(path.Clean("/"+name), "/"), &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// lookInRoot reports whether cmd resolves to an executable file in the
// container, as execvp would look for it.
func lookInRoot(root *os.File, cmd, pathEnv, cwd string) bool {
	if strings.Contains(cmd, "/") {
		if !path.IsAbs(cmd) {
			cmd = path.Join(cwd, cmd)
		}
		return isExecutable(root, cmd)
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		if !path.IsAbs(dir) {
			dir = path.Join(cwd, dir)
		}
		if isExecutable(root, path.Join(dir, cmd)) {
			return true
		}
	}
	return false
}

func isExecutable(root *os.File, name string) bool {
	f, err := openInRoot(root, name, unix.O_PATH)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
}

// resolveUser resolves USER[:GROUP] in the container's /etc/passwd and
// /etc/group; numbers need neither file.
func resolveUser(root *os.File, spec string, base Base) (*user.ExecUser, error) {
	def := &user.ExecUser{Uid: int(base.UID), Gid: int(base.GID), Home: "/"}
	if spec == "" {
		return def, nil
	}
	var passwd, group io.Reader
	if f, err := openInRoot(root, "/etc/passwd", unix.O_RDONLY); err == nil {
		defer f.Close()
		passwd = f
	}
	if f, err := openInRoot(root, "/etc/group", unix.O_RDONLY); err == nil {
		defer f.Close()
		group = f
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}, passwd, group)
	if err != nil {
		return nil, &execproto.StartError{ExitCode: 126, Msg: fmt.Sprintf("user %q in the plugin's /etc/passwd and /etc/group: %v", spec, err)}
	}
	return u, nil
}

// mergeEnv returns base with each KEY=VALUE of extra set, replacing an
// earlier value of KEY.
func mergeEnv(base, extra []string) []string {
	out := append([]string{}, base...)
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		out = setEnv(out, k, v)
	}
	return out
}

func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func prefixColon(s string) string {
	if s == "" {
		return ""
	}
	return ":" + s
}
