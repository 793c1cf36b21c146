package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/cli/cli/connhelper/ssh"
)

// DialStdioExitNoDaemon is the status `plugdbg dial-stdio` exits with when
// it cannot reach its daemon, so that the ssh side can tell "no daemon on
// the remote host" from ssh's own failures (255) and a missing plugdbg
// (127, from the remote shell).
const DialStdioExitNoDaemon = 3

// sshDialer returns a dialer that runs `ssh … plugdbg dial-stdio` for each
// connection, as the docker CLI runs `docker system dial-stdio`: the
// system ssh binary, so that the user's keys, agent, config, jump hosts
// and known_hosts apply. The URL's path, if any, is the remote daemon's
// socket; without one the remote plugdbg uses its own default
// (PLUGDBG_HOST there, or /run/plugdbg/plugdbg.sock).
func sshDialer(host string, flags []string) (dialer, error) {
	spec, err := ssh.ParseURL(host)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidHost, err)
	}
	remote := []string{"plugdbg"}
	if spec.Path != "" && spec.Path != "/" {
		remote = append(remote, "--host=unix://"+spec.Path)
	}
	remote = append(remote, "dial-stdio")
	// Docker's defaults: give up on an unreachable host after 30 s, and no
	// pty, whose line discipline would mangle the byte stream.
	all := append([]string(nil), flags...)
	if !containsPrefix(all, "ConnectTimeout") {
		all = append(all, "-o", "ConnectTimeout=30")
	}
	if !contains(all, "-T") {
		all = append(all, "-T")
	}
	args, err := spec.Command(all, remote...)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidHost, host, err)
	}
	return func(ctx context.Context) (net.Conn, error) {
		return newCommandConn(ctx, "ssh", args, spec.Host)
	}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsPrefix(list []string, sub string) bool {
	for _, x := range list {
		if strings.Contains(x, sub) {
			return true
		}
	}
	return false
}

// SSHError is a connection over ssh that failed before or while the
// remote end answered: ssh could not run, could not log in, or the remote
// `plugdbg dial-stdio` could not run or reach its daemon. Its message says
// which, with what ssh or the remote side wrote on stderr.
type SSHError struct {
	Host   string // the ssh host
	Reason string // what went wrong, in words
	Stderr string // the last lines ssh and the remote command wrote
	Err    error
}

func (e *SSHError) Error() string {
	msg := e.Reason
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *SSHError) Unwrap() error { return e.Err }

// commandConn is a net.Conn over a subprocess's stdin and stdout, the
// docker CLI's commandconn with errors that say why the command ended.
// Docker's own package would do but for its errors, which tell the user to
// install Docker 18.09 on the remote host whatever went wrong.
type commandConn struct {
	cmd    *exec.Cmd
	host   string
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer

	waitOnce sync.Once
	waitDone chan struct{}
	waitErr  error

	closeOnce sync.Once
	closed    atomic.Bool // Close was called
}

// newCommandConn starts name with args. The command is not tied to ctx:
// the connection outlives the request that opened it (the HTTP
// transport keeps it for the next one), as docker's does.
func newCommandConn(_ context.Context, name string, args []string, host string) (net.Conn, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, &SSHError{Host: host, Reason: "no ssh client: " + name + " is not in PATH (ssh:// hosts are reached through the system ssh)", Err: err}
	}
	cmd := exec.Command(path, args...)
	cmd.Env = os.Environ()
	setSession(cmd)
	c := &commandConn{cmd: cmd, host: host, stderr: &tailBuffer{max: 4 << 10}, waitDone: make(chan struct{})}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if c.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, &SSHError{Host: host, Reason: "cannot run " + name, Err: err}
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.waitDone)
	}()
	return c, nil
}

func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err != nil {
		err = c.ended(err)
	}
	return n, err
}

func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil {
		err = c.ended(err)
	}
	return n, err
}

// ended turns the end of a pipe into the command's story: a clean exit
// is io.EOF, a failed one an *SSHError.
func (c *commandConn) ended(err error) error {
	// exec.Cmd.Wait closes the pipes once ssh has exited, so a closed
	// pipe is news of ssh's end unless Close closed it.
	if errors.Is(err, os.ErrClosed) && c.closed.Load() {
		return net.ErrClosed
	}
	select {
	case <-c.waitDone:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not exit after its output ended (%v): %s", c.cmd.Path, err, c.stderr.String())
	}
	if c.waitErr == nil {
		return io.EOF
	}
	return c.exitError(c.waitErr)
}

// exitError explains how ssh ended.
func (c *commandConn) exitError(werr error) error {
	stderr := strings.TrimSpace(c.stderr.String())
	e := &SSHError{Host: c.host, Stderr: stderr, Err: werr}
	code := -1
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	}
	switch {
	case code == DialStdioExitNoDaemon:
		e.Reason = "no plugdbg daemon answers on " + c.host
	case code == 127 || code == 126:
		e.Reason = "plugdbg is not on the remote PATH of " + c.host + " (ssh runs `plugdbg dial-stdio` there; install the client beside plugdbgd)"
	case code == 255 && (strings.Contains(stderr, "Permission denied") || strings.Contains(stderr, "Too many authentication failures")):
		e.Reason = "ssh authentication to " + c.host + " failed"
	case code == 255 && strings.Contains(stderr, "Host key verification failed"):
		e.Reason = "ssh host key of " + c.host + " is unknown or changed (see known_hosts)"
	case code == 255:
		e.Reason = "ssh to " + c.host + " failed"
	default:
		e.Reason = fmt.Sprintf("ssh to %s ended (%v)", c.host, werr)
	}
	return e
}

// CloseWrite ends the remote side's input; the connection reads on.
func (c *commandConn) CloseWrite() error { return c.stdin.Close() }

// CloseRead stops reading.
func (c *commandConn) CloseRead() error { return c.stdout.Close() }

// Close closes both pipes, which ends ssh; it is killed if it lingers.
func (c *commandConn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.stdin.Close()
		c.stdout.Close()
		go func() {
			select {
			case <-c.waitDone:
			case <-time.After(3 * time.Second):
				_ = c.cmd.Process.Kill()
			}
		}()
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr  { return commandAddr("ssh") }
func (c *commandConn) RemoteAddr() net.Addr { return commandAddr(c.host) }

// Deadlines cannot apply to pipes of a process: timeouts come from the
// request's context, which closes the connection.
func (c *commandConn) SetDeadline(time.Time) error      { return nil }
func (c *commandConn) SetReadDeadline(time.Time) error  { return nil }
func (c *commandConn) SetWriteDeadline(time.Time) error { return nil }

type commandAddr string

func (a commandAddr) Network() string { return "ssh" }
func (a commandAddr) String() string  { return string(a) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
