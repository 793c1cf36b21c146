package monitor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/exeseal"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

// ErrNoMonitor means no monitor answers in a directory: it exited, or the
// machine rebooted.
var ErrNoMonitor = errors.New("no monitor running")

// ErrEarlierMonitor means the monitor closed the connection without a
// reply to a request it does not know: it runs an earlier plugdbg, which
// the plugin's next start replaces.
var ErrEarlierMonitor = errors.New("it runs an earlier plugdbg; restart the plugin to use this")

// Launcher starts monitor processes. It keeps one spare monitor booted
// ahead of need, so that an enable does not wait for a new process to start
// (about 20 ms for this binary). Safe for concurrent use.
type Launcher struct {
	Binary string // the monitor binary (plugdbgd-monitor, or plugdbgd itself)
	Root   string // parent of the monitor directories; holds spare.log

	mu    sync.Mutex
	spare *spare

	// sealMu is held for reading from exe to the exec, so that the
	// descriptor named by the path is not closed meanwhile.
	sealMu sync.RWMutex
	sealed *os.File // Seal's copy of Binary, which monitors then run from
}

// Seal copies Binary into a sealed memfd, which monitors then run from.
// A container's init is its monitor's executable run again, and
// libcontainer keeps the container from rewriting that file
// (CVE-2019-5736) by sealing a fresh copy of it for every start, about 2 ms
// of each, unless the executable already is a sealed memfd: sealed once
// here, the copy serves every start. It costs one copy of the binary in
// memory for as long as the daemon or a monitor started from it runs.
// Without Seal, or after it failed, monitors run from Binary and each start
// seals its own copy.
func (l *Launcher) Seal() error {
	src, err := os.Open(l.Binary)
	if err != nil {
		return fmt.Errorf("seal monitor binary: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("seal monitor binary: %w", err)
	}
	f, seal, err := exeseal.Memfd(filepath.Base(l.Binary))
	if err != nil {
		return fmt.Errorf("seal monitor binary: %w", err)
	}
	if n, err := io.Copy(f, src); err != nil || n != fi.Size() {
		f.Close()
		return fmt.Errorf("seal monitor binary: copied %d of %d bytes of %s: %v", n, fi.Size(), l.Binary, err)
	}
	if err := seal(&f); err != nil {
		f.Close()
		return fmt.Errorf("seal monitor binary: %w", err)
	}
	l.sealMu.Lock()
	defer l.sealMu.Unlock()
	if l.sealed != nil {
		l.sealed.Close()
	}
	l.sealed = f
	return nil
}

// exe is the path monitors are executed from: the sealed copy through this
// process's descriptor (a child execs it before its descriptors close on
// exec), or Binary. The caller holds sealMu for reading until the exec.
func (l *Launcher) exe() string {
	if l.sealed != nil {
		return "/proc/self/fd/" + strconv.Itoa(int(l.sealed.Fd()))
	}
	return l.Binary
}

// spare is a booted monitor waiting for its directory on stdin.
type spare struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	exited chan struct{}
}

// argv0 names monitor processes in ps.
const argv0 = "plugdbg"

// Start runs a monitor for cfg in dir (created if needed), in its own
// session so that it outlives the caller, and returns once the container's
// init runs or has failed to start.
func (l *Launcher) Start(ctx context.Context, dir string, cfg Config) (Hello, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Hello{}, fmt.Errorf("create monitor dir: %w", err)
	}
	if prev, err := ReadExit(dir); err == nil {
		cfg.MinLastSeq = max(cfg.MinLastSeq, prev.LastSeq)
	}
	for _, f := range []string{exitFile, socketFile} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	var token [16]byte
	if _, err := rand.Read(token[:]); err != nil {
		return Hello{}, fmt.Errorf("start token: %w", err)
	}
	cfg.Token = hex.EncodeToString(token[:])
	if err := atomicfile.WriteRunStateJSON(filepath.Join(dir, configFile), cfg, 0o600); err != nil {
		return Hello{}, err
	}
	sp, err := l.take()
	if err != nil {
		return Hello{}, err
	}
	job := handover{Dir: dir, Token: cfg.Token}
	h, err := handOver(ctx, sp, job)
	if errors.Is(err, errMonitorGone) {
		// The spare died without a word, most likely killed while it
		// waited: a freshly booted monitor takes the job. (Were the
		// container already created, the new monitor replaces it.)
		if sp, err = l.boot(); err != nil {
			return Hello{}, err
		}
		h, err = handOver(ctx, sp, job)
	}
	return h, err
}

// errMonitorGone means a monitor ended before it reported a start result.
var errMonitorGone = errors.New("monitor ended before it reported")

// handOver gives job to the booted monitor sp and waits for its start result.
func handOver(ctx context.Context, sp *spare, job handover) (Hello, error) {
	defer sp.stdout.Close()
	dir := job.Dir
	line, err := json.Marshal(job)
	if err == nil {
		_, err = sp.stdin.Write(append(line, '\n'))
	}
	sp.stdin.Close()
	if err != nil {
		return Hello{}, fmt.Errorf("hand over to monitor: %w (%w)", err, errMonitorGone)
	}
	result := make(chan error, 1)
	var r startResult
	go func() {
		if err := json.NewDecoder(sp.stdout).Decode(&r); err != nil {
			result <- fmt.Errorf("%w (see %s): %w", errMonitorGone, filepath.Join(dir, logFile), err)
			return
		}
		result <- nil
	}()
	select {
	case err := <-result:
		if err != nil {
			return Hello{}, err
		}
		if r.Error != "" {
			return Hello{}, errors.New(r.Error)
		}
		return Hello{Pid: r.Pid, StartedAt: r.StartedAt, Phases: r.Phases}, nil
	case <-ctx.Done():
		_ = sp.cmd.Process.Kill()
		return Hello{}, fmt.Errorf("start monitor: %w", ctx.Err())
	}
}

// take returns the spare if it is still alive, or boots one now.
func (l *Launcher) take() (*spare, error) {
	l.mu.Lock()
	sp := l.spare
	l.spare = nil
	l.mu.Unlock()
	if sp != nil {
		select {
		case <-sp.exited:
			sp.stdin.Close()
			sp.stdout.Close()
		default:
			return sp, nil
		}
	}
	return l.boot()
}

// Prewarm boots the spare monitor now, unless one is waiting, so that the
// next Start finds one. Start takes the spare and leaves the refill to its
// caller: booting a monitor while the container it just started is still
// coming up would take a CPU from that start.
func (l *Launcher) Prewarm() { go l.refill() }

// refill boots a new spare unless one is waiting.
func (l *Launcher) refill() {
	l.mu.Lock()
	have := l.spare != nil
	l.mu.Unlock()
	if have {
		return
	}
	sp, err := l.boot()
	if err != nil {
		return // the next Start boots one itself and reports the error
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare != nil {
		sp.stdin.Close() // lost a race with another refill: let it exit
		sp.stdout.Close()
		return
	}
	l.spare = sp
}

func (l *Launcher) boot() (*spare, error) {
	if err := os.MkdirAll(l.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create monitor root: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(l.Root, "spare.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spare monitor log: %w", err)
	}
	defer logf.Close()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	// Plain *os.File stdio: os/exec then copies nothing, and Wait may run
	// while the start result is still being read.
	l.sealMu.RLock()
	defer l.sealMu.RUnlock()
	cmd := exec.Command(l.exe(), Argv1)
	cmd.Args[0] = argv0
	cmd.Dir = l.Root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	sp := &spare{cmd: cmd, stdin: inW, stdout: outR, exited: make(chan struct{})}
	// Reap the monitor when it ends; it is our child while we live.
	go func() { _ = cmd.Wait(); close(sp.exited) }()
	return sp, nil
}

// Close ends the spare monitor, if any, and drops the sealed copy. Running
// monitors are not affected.
func (l *Launcher) Close() {
	l.mu.Lock()
	sp := l.spare
	l.spare = nil
	l.mu.Unlock()
	l.sealMu.Lock()
	if l.sealed != nil {
		l.sealed.Close()
		l.sealed = nil
	}
	l.sealMu.Unlock()
	if sp != nil {
		sp.stdin.Close()
		sp.stdout.Close()
	}
}

// Conn is an attached monitor. Next must be called from one goroutine; Ack
// and Stop may be called from any.
type Conn struct {
	conn  net.Conn
	r     *bufio.Reader
	hello Hello
	enc   chan request
	done  chan struct{} // closed by Close: ends sendLoop, and send no longer waits
	once  sync.Once
	skip  *Message // a Skipped marker Next read but returns next time
	ends  []int    // Next's record ends in its batch buffer, reused
}

// helloTimeout bounds the wait for a monitor's hello after attaching.
const helloTimeout = 30 * time.Second

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
	mc := &Conn{conn: c, r: bufio.NewReaderSize(c, 1<<20), enc: make(chan request, 16), done: make(chan struct{})}
	// A monitor still starting its container answers once it runs; one
	// that never does is as good as none.
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	line, err := mc.r.ReadBytes('\n')
	_ = c.SetReadDeadline(time.Time{})
	var first Message
	if err == nil {
		err = json.Unmarshal(line, &first)
	}
	if err != nil || first.Hello == nil {
		c.Close()
		return nil, fmt.Errorf("%w: no hello: %v", ErrNoMonitor, err)
	}
	mc.hello = *first.Hello
	go mc.sendLoop()
	return mc, nil
}

// Hello describes the container the monitor runs.
func (c *Conn) Hello() Hello { return c.hello }

// Next returns the next message: the lines that have arrived (up to a
// batch) with any marker among them. After a message with Exit it returns
// an error.
func (c *Conn) Next() (Message, error) {
	var msg Message
	if c.skip != nil {
		msg.Skipped, msg.SkippedAfter = c.skip.Skipped, c.skip.SkippedAfter
		c.skip = nil
	}
	// The records of the batch are gathered into a buffer of their own,
	// which then becomes, as it is, the string that their lines and
	// records are substrings of (logs.DecodeEntryIn): one allocation and
	// one copy for the batch rather than one a line. The buffer is never
	// written again, and is kept while any of its lines is (a follower's
	// queue), so it is sized for what the reader already holds: a batch
	// of one short line costs a short buffer.
	var raw []byte
	ends := c.ends[:0]
	decode := func() error {
		defer func() { raw, ends = nil, ends[:0] }()
		if len(ends) == 0 {
			return nil
		}
		all, start := unsafe.String(unsafe.SliceData(raw), len(raw)), 0
		msg.Lines = slices.Grow(msg.Lines, len(ends))
		for _, end := range ends {
			var e logs.Entry
			if err := logs.DecodeEntryIn(all[start:end], &e); err != nil {
				return fmt.Errorf("monitor sent a bad record: %w", err)
			}
			msg.Lines = append(msg.Lines, e)
			start = end
		}
		return nil
	}
	defer func() { c.ends = ends[:0] }()
	for {
		line, err := c.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A record longer than the buffer: gather it whole.
			rest, rerr := c.r.ReadBytes('\n')
			line, err = append(append([]byte(nil), line...), rest...), rerr
		}
		if err != nil {
			if derr := decode(); derr != nil {
				return msg, derr
			}
			if len(msg.Lines) > 0 || msg.Skipped > 0 || msg.Unstored > 0 {
				return msg, nil // deliver what came; the error comes next call
			}
			return msg, err
		}
		if bytes.HasPrefix(line, []byte(logs.RecordPrefix)) {
			// Without its newline the record is in the canonical form
			// that decodes fast; with it, it takes encoding/json.
			if raw == nil {
				raw = make([]byte, 0, min(len(line)+c.r.Buffered(), maxBatchGuess))
			}
			raw = append(raw, line[:len(line)-1]...)
			ends = append(ends, len(raw))
		} else {
			if err := decode(); err != nil {
				return msg, err
			}
			var m Message
			if err := json.Unmarshal(line, &m); err != nil {
				return msg, fmt.Errorf("monitor sent a bad message: %w", err)
			}
			if m.Skipped > 0 {
				if len(msg.Lines) > 0 || msg.Skipped > 0 {
					// The skipped lines come after these: keep the order.
					c.skip = &m
					return msg, nil
				}
				msg.Skipped, msg.SkippedAfter = m.Skipped, m.SkippedAfter
			}
			if m.Unstored > msg.Unstored {
				msg.Unstored = m.Unstored
			}
			if m.Exit != nil {
				msg.Exit = m.Exit
				return msg, nil
			}
		}
		if c.r.Buffered() == 0 || len(msg.Lines)+len(ends) >= maxBatch {
			err := decode() // before msg is copied out
			return msg, err
		}
	}
}

// maxBatchGuess bounds the buffer Next sets aside for a batch from what
// its reader holds; a larger batch grows it.
const maxBatchGuess = 4 << 20

// Ack tells the monitor that every line up to seq was processed.
func (c *Conn) Ack(seq uint64) { c.send(request{Op: "ack", Seq: seq}) }

// SetLogLimits changes the rotation limits of the plugin's log file from
// its next write on, for as long as this monitor runs.
func (c *Conn) SetLogLimits(maxSize int64, maxFiles int) {
	c.send(request{Op: "log-limits", MaxSize: maxSize, MaxFiles: maxFiles})
}

// Stop asks the monitor to SIGTERM the plugin, then SIGKILL it after grace
// (at once when grace is 0). The exit arrives through Next.
func (c *Conn) Stop(grace time.Duration) { c.send(request{Op: "stop", Grace: grace}) }

// send queues r for the monitor; after Close it is dropped. enc is never
// closed, so a send racing Close neither panics nor races.
func (c *Conn) send(r request) {
	select {
	case c.enc <- r:
	case <-c.done:
	}
}

func (c *Conn) sendLoop() {
	enc := json.NewEncoder(c.conn)
	var failed bool
	for {
		select {
		case r := <-c.enc:
			// After a failed write the connection is gone: drain, so
			// that senders never block, until Close.
			if !failed && enc.Encode(r) != nil {
				failed = true
			}
		case <-c.done:
			return
		}
	}
}

// Close detaches from the monitor; the plugin keeps running.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		close(c.done)
		err = c.conn.Close()
	})
	return err
}

// ReadExit returns the exit status a finished monitor left in dir.
func ReadExit(dir string) (types.PluginExit, error) {
	var s types.PluginExit
	data, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s)
}

// oneShotTimeout bounds a one-shot request whose context has no deadline.
const oneShotTimeout = 10 * time.Second

// oneShot sends req to the monitor in dir on a connection of its own and
// reads its reply, until ctx ends.
func oneShot(ctx context.Context, dir string, req request) (reply, error) {
	var r reply
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(dir, socketFile))
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(oneShotTimeout + req.Wait)
	}
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return r, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	line, err := bufio.NewReaderSize(c, 64<<10).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return r, fmt.Errorf("monitor %s: %s: %w", dir, req.Op, ctx.Err())
		}
		if errors.Is(err, io.EOF) && len(line) == 0 {
			// A monitor of an earlier plugdbg closes a connection whose
			// first request it does not know.
			return r, fmt.Errorf("monitor %s: no answer to %s: %w", dir, req.Op, ErrEarlierMonitor)
		}
		return r, fmt.Errorf("monitor %s: %s: %w", dir, req.Op, err)
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("monitor %s: bad reply to %s: %w", dir, req.Op, err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("monitor %s: %s: %s", dir, req.Op, r.Error)
	}
	return r, nil
}

// Calls returns the call counters of the run in dir (types.CallStats; the
// caller fills in the plugin's ID and name). It works whether or not a
// daemon is attached.
func Calls(ctx context.Context, dir string) (types.CallStats, error) {
	r, err := oneShot(ctx, dir, request{Op: "calls"})
	if err != nil {
		return types.CallStats{}, err
	}
	if r.Calls == nil {
		return types.CallStats{}, fmt.Errorf("monitor %s: no counters in the reply", dir)
	}
	return *r.Calls, nil
}

// Observe turns the recording point of the run in dir on or off. Turning
// it on waits, until ctx ends (for at most maxObserveWait), for the point
// to be in place, which it is once the plugin has created its socket; the
// status then says whether it is. Turning it off puts the plugin's socket
// back at once; connections open through the point end when their clients
// close them.
func Observe(ctx context.Context, dir string, on bool) (ObserveStatus, error) {
	req := request{Op: "observe", On: on}
	if on {
		req.Wait = maxObserveWait
		if deadline, ok := ctx.Deadline(); ok {
			// Answer a little before the caller gives up, with the state.
			req.Wait = max(time.Until(deadline)-100*time.Millisecond, 0)
		}
	}
	r, err := oneShot(ctx, dir, req)
	if err != nil {
		return ObserveStatus{}, err
	}
	if r.Observe == nil {
		return ObserveStatus{}, fmt.Errorf("monitor %s: no observe status in the reply", dir)
	}
	return *r.Observe, nil
}

// ObserveState returns the state of the recording point of the run in
// dir, changing nothing.
func ObserveState(ctx context.Context, dir string) (ObserveStatus, error) {
	r, err := oneShot(ctx, dir, request{Op: "point"})
	if err != nil {
		return ObserveStatus{}, err
	}
	if r.Observe == nil {
		return ObserveStatus{}, fmt.Errorf("monitor %s: no observe status in the reply", dir)
	}
	return *r.Observe, nil
}

// maxTraceLine bounds one line of a trace stream: a record keeps up to
// 64 KiB of each body, which JSON may spell in six times as many bytes.
const maxTraceLine = 2 << 20

// TraceStream is a trace stream from a run's recording point: the records
// of the calls passing the point, from its start on. Next must be called
// from one goroutine; Close from any.
type TraceStream struct {
	conn   net.Conn
	r      *bufio.Reader
	socket string
	once   sync.Once
}

// Trace attaches a trace stream to the recording point of the run in dir,
// which must be in place: once it returns, every call whose request
// passes the point is recorded, on connections opened before included,
// until the stream is closed, the point removed or the plugin exited (the
// stream's last message says which). ctx bounds the attaching only. A
// monitor of an earlier plugdbg, which cannot stream, gives an error
// wrapping ErrEarlierMonitor. Nothing of the stream outlives its
// connection in the monitor: a daemon that dies ends it.
func Trace(ctx context.Context, dir string) (_ *TraceStream, retErr error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(dir, socketFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	defer func() {
		if retErr != nil {
			c.Close()
		}
	}()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(oneShotTimeout)
	}
	_ = c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(request{Op: "trace", Version: traceVersion}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoMonitor, err)
	}
	r := bufio.NewReaderSize(c, 64<<10)
	line, err := readLine(r, maxTraceLine)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("monitor %s: trace: %w", dir, ctx.Err())
	case errors.Is(err, io.EOF) && len(line) == 0:
		return nil, fmt.Errorf("monitor %s: no answer to trace: %w", dir, ErrEarlierMonitor)
	case err != nil:
		return nil, fmt.Errorf("monitor %s: trace: %w", dir, err)
	}
	var rep reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, fmt.Errorf("monitor %s: bad reply to trace: %w", dir, err)
	}
	switch {
	case rep.Error != "":
		return nil, fmt.Errorf("monitor %s: trace: %s", dir, rep.Error)
	case rep.Trace == nil:
		return nil, fmt.Errorf("monitor %s: no trace start in the reply", dir)
	case rep.Trace.Version != traceVersion:
		return nil, fmt.Errorf("monitor %s: trace stream version %d, this daemon reads %d", dir, rep.Trace.Version, traceVersion)
	}
	if !stop() {
		return nil, fmt.Errorf("monitor %s: trace: %w", dir, context.Cause(ctx))
	}
	_ = c.SetDeadline(time.Time{})
	return &TraceStream{conn: c, r: r, socket: rep.Trace.Socket}, nil
}

// Socket is the plugin's socket the point is on, on the monitor's host.
func (s *TraceStream) Socket() string { return s.socket }

// Next returns the stream's next message; after one with End, or once the
// connection ended, an error.
func (s *TraceStream) Next() (TraceMessage, error) {
	var msg TraceMessage
	line, err := readLine(s.r, maxTraceLine)
	if err != nil {
		return msg, fmt.Errorf("trace stream: %w", err)
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return msg, fmt.Errorf("trace stream: a bad message: %w", err)
	}
	return msg, nil
}

// Close ends the stream; the monitor stops recording for it.
func (s *TraceStream) Close() error {
	err := net.ErrClosed
	s.once.Do(func() { err = s.conn.Close() })
	return err
}

// readLine reads one line, without its newline, of at most limit bytes.
// The line may be r's buffer, valid until its next read.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > limit {
			return nil, fmt.Errorf("a line over %d bytes", limit)
		}
		switch {
		case err == nil:
			if line == nil {
				return frag[:len(frag)-1], nil
			}
			line = append(line, frag...)
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, frag...)
		default:
			if len(line)+len(frag) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return append(line, frag...), err
		}
	}
}
