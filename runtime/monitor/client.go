package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

// ErrNoMonitor means no monitor answers in a directory: it exited, or the
// machine rebooted.
var ErrNoMonitor = errors.New("no monitor running")

// Start launches a monitor process for cfg in dir (created if needed) from
// binary, in a new session so that it outlives the caller, and returns once
// the container's init runs or has failed to start.
func Start(ctx context.Context, binary, dir string, cfg Config) (Hello, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Hello{}, fmt.Errorf("create monitor dir: %w", err)
	}
	for _, f := range []string{exitFile, socketFile} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, configFile), cfg, 0o600); err != nil {
		return Hello{}, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return Hello{}, fmt.Errorf("open monitor log: %w", err)
	}
	defer logf.Close()

	cmd := exec.Command(binary, Argv1, dir)
	cmd.Dir = dir
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Hello{}, err
	}
	if err := cmd.Start(); err != nil {
		return Hello{}, fmt.Errorf("start monitor: %w", err)
	}
	// Reap the monitor when it ends; it is our child while we live.
	waited := make(chan error, 1)
	result := make(chan startResult, 1)
	go func() {
		var r startResult
		if err := json.NewDecoder(out).Decode(&r); err != nil {
			r.Error = fmt.Sprintf("monitor ended before it reported: %v", err)
		}
		result <- r
		waited <- cmd.Wait()
	}()
	select {
	case r := <-result:
		if r.Error != "" {
			return Hello{}, errors.New(r.Error)
		}
		return Hello{Pid: r.Pid, StartedAt: r.StartedAt}, nil
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return Hello{}, fmt.Errorf("start monitor: %w", ctx.Err())
	}
}

// Conn is an attached monitor. Next must be called from one goroutine; Ack
// and Stop may be called from any.
type Conn struct {
	conn  net.Conn
	dec   *json.Decoder
	hello Hello
	enc   chan request
}

// Attach connects to the monitor in dir. Lines come from just after the last
// line acknowledged by any earlier attach, so a restarted daemon loses none.
func Attach(dir string) (*Conn, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, socketFile), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	if err := json.NewEncoder(c).Encode(request{Op: "attach"}); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	mc := &Conn{conn: c, dec: json.NewDecoder(bufio.NewReaderSize(c, 256<<10)), enc: make(chan request, 16)}
	var first Message
	if err := mc.dec.Decode(&first); err != nil || first.Hello == nil {
		c.Close()
		return nil, fmt.Errorf("%w: no hello: %v", ErrNoMonitor, err)
	}
	mc.hello = *first.Hello
	go mc.sendLoop()
	return mc, nil
}

// Hello describes the container the monitor runs.
func (c *Conn) Hello() Hello { return c.hello }

// Next returns the next message. After a message with Exit it returns io.EOF.
func (c *Conn) Next() (Message, error) {
	var m Message
	err := c.dec.Decode(&m)
	return m, err
}

// Ack tells the monitor that every line up to seq was processed.
func (c *Conn) Ack(seq uint64) { c.send(request{Op: "ack", Seq: seq}) }

// Stop asks the monitor to SIGTERM the plugin, then SIGKILL it after grace
// (at once when grace is 0). The exit arrives through Next.
func (c *Conn) Stop(grace time.Duration) { c.send(request{Op: "stop", Grace: grace}) }

func (c *Conn) send(r request) {
	defer func() { _ = recover() }() // sending after Close is a no-op
	c.enc <- r
}

func (c *Conn) sendLoop() {
	enc := json.NewEncoder(c.conn)
	for r := range c.enc {
		if err := enc.Encode(r); err != nil {
			return
		}
	}
}

// Close detaches from the monitor; the plugin keeps running.
func (c *Conn) Close() error {
	defer func() { _ = recover() }()
	close(c.enc)
	return c.conn.Close()
}

// ReadExit returns the exit status a finished monitor left in dir.
func ReadExit(dir string) (ExitStatus, error) {
	var s ExitStatus
	data, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s)
}

// Cleanup removes container id's libcontainer state, killing its processes
// if it still runs. It is used when a monitor died without cleaning up.
func Cleanup(stateRoot, id string) error {
	ct, err := libcontainer.Load(stateRoot, id)
	if errors.Is(err, libcontainer.ErrNotExist) {
		// Nothing, or a half-created container directory.
		return os.RemoveAll(filepath.Join(stateRoot, id))
	}
	if err != nil {
		return err
	}
	if st, err := ct.Status(); err == nil && st != libcontainer.Stopped {
		_ = ct.Signal(unix.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := ct.Status(); err != nil || st == libcontainer.Stopped {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return ct.Destroy()
}
