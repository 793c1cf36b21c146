package monitor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

const (
	// maxUnacked bounds the memory a monitor spends keeping lines for a
	// daemon that is away (their records, as the log file holds them);
	// older lines stay only in the log file.
	maxUnacked = 64 << 20
	// maxBatch is the most lines the daemon takes as one message.
	maxBatch = 4096
	// maxSend bounds the records one write to the daemon carries, so that
	// the writer comes back for the exit and the unstored count in time.
	maxSend = 4 << 20
	// pipeSize is the buffer the monitor asks for the plugin's stdout and
	// stderr pipes (F_SETPIPE_SZ; 1 MiB is the kernel's default limit for
	// unprivileged pipes), and readSize one read from them: a plugin that
	// floods blocks on a full pipe 16 times less often than with the
	// default 64 KiB, and the monitor wakes up as much less often.
	pipeSize = 1 << 20
	readSize = pipeSize
	// idleFlush is how long an unfinished line waits for its newline.
	idleFlush = 100 * time.Millisecond
	// drainTimeout bounds the wait for stdio EOF after the container's init
	// exited, in case a process outside its PID namespace holds the pipes.
	drainTimeout = 2 * time.Second
	// exitDeliveryTimeout bounds how long an exited monitor waits for an
	// attached daemon to read the exit status.
	exitDeliveryTimeout = 10 * time.Second
)

// Main runs a monitor for the directory in args[0] and returns the exit code
// of the monitor process. The daemon reads the start result on stdout.
//
// With no arguments the monitor is a spare: booted ahead of need, it waits
// for its job (a handover) on stdin and exits if stdin closes first.
//
// The daemon that started a monitor may die at any moment, even before the
// start result is read: the monitor then runs on, for the next daemon to
// reattach to or to stop, as it would after a daemon died later.
func Main(args []string) int {
	// Go kills a program with SIGPIPE on a write to a broken pipe on fd 1
	// or 2 unless SIGPIPE is handled: handled, the write fails with EPIPE.
	// (Not ignored: SIG_IGN would be inherited by the plugin's processes
	// through exec; a handler is reset there.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	nameProcess()
	var dir, token string
	var clock *phaseClock // from the handover on: what the daemon waits for
	switch len(args) {
	case 1:
		dir = args[0]
	case 0:
		warmUp()
		line, err := bufio.NewReader(os.Stdin).ReadBytes('\n')
		if err != nil {
			return 0 // the daemon went away before it needed this spare
		}
		var h handover
		if err := json.Unmarshal(line, &h); err != nil || h.Dir == "" {
			reportStart(startResult{Error: fmt.Sprintf("bad handover %q: %v", line, err)})
			return 2
		}
		dir, token = h.Dir, h.Token
		clock = newPhaseClock()
		if err := redirectStderr(filepath.Join(dir, logFile)); err != nil {
			fmt.Fprintf(os.Stderr, "monitor %d: %v\n", os.Getpid(), err)
			reportStart(startResult{Error: err.Error()})
			return 1
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: plugdbg", Argv1, "[DIR]")
		return 2
	}
	cfg, lock, err := claim(dir, token)
	if err != nil {
		fmt.Fprintf(os.Stderr, "monitor %d: %v\n", os.Getpid(), err)
		reportStart(startResult{Error: err.Error()})
		return 1
	}
	defer lock.Close() // held until the monitor exits, whatever it does meanwhile
	if clock == nil {
		clock = newPhaseClock()
	}
	clock.mark("claim")
	m := &monitor{dir: dir, cfg: cfg, obs: newObserver(cfg.Socket), clock: clock}
	m.cond = sync.NewCond(&m.mu)
	return m.run()
}

// redirectStderr points fd 2 at the monitor's own log file.
func redirectStderr(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open monitor log: %w", err)
	}
	defer f.Close()
	return unix.Dup2(int(f.Fd()), 2)
}

// reportStart sends the start result to the daemon that handed over the
// job. That daemon may be gone (EPIPE): a run that started goes on, and the
// next daemon decides what becomes of it.
func reportStart(r startResult) {
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil && r.Error == "" {
		fmt.Fprintf(os.Stderr, "report start (pid %d) to the daemon: %v; running on for the next daemon\n", r.Pid, err)
	}
	// Nothing else may go to the daemon's pipe: it is the start result's
	// alone.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err == nil {
		_ = unix.Dup2(int(devnull.Fd()), 1)
		devnull.Close()
	}
}

type monitor struct {
	dir string
	cfg Config
	ln  net.Listener
	log *logs.RotatingFile // nil when the log cannot be written at all

	container *libcontainer.Container
	process   *libcontainer.Process
	startedAt time.Time

	obs *observer // the recording point on the plugin's socket (observe.go)

	// execMu orders exec starts (read) with the init's exit (write), after
	// which initExited refuses them; execs counts the exec sessions that
	// have not ended (exec.go).
	execMu     sync.RWMutex
	initExited bool
	execs      sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond
	lastSeq  uint64
	ackedSeq uint64 // last seq a daemon acknowledged
	unstored uint64 // lines the log file could not take
	// unacked holds the records of the lines from the daemon's last ack on
	// (and of a few before it, in the oldest chunk), oldest first, as they
	// went to the log file: the daemon reads the same form, so a line is
	// encoded once, and the spool holds no pointer for the GC to chase.
	unacked  []chunk
	unackedB int // bytes held by unacked
	exit     *types.PluginExit
	session  *session
	attached bool // a daemon has attached during this run
	stopping bool
	clock    *phaseClock // the start's phases, reported with the start result
}

func (m *monitor) run() int {
	sock := filepath.Join(m.dir, socketFile)
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		reportStart(startResult{Error: fmt.Sprintf("listen on %s: %v", sock, err)})
		return 1
	}
	m.ln = ln
	defer os.Remove(sock)

	m.openLog()
	m.clock.mark("listen and open log")
	if m.cfg.Observe {
		// Watching from before the start: the point is in place as soon
		// as the socket exists, whenever a daemon asks.
		m.obs.set(true)
	}

	stdout, stderr, err := m.startContainer()
	if err != nil {
		reportStart(startResult{Error: err.Error()})
		return 1
	}
	pid, _ := m.process.Pid()
	reportStart(startResult{Pid: pid, StartedAt: m.startedAt, Phases: m.clock.phases})

	go m.serve()
	var copiers sync.WaitGroup
	copiers.Add(2)
	go func() { defer copiers.Done(); m.copyLines(stdout, logs.Stdout) }()
	go func() { defer copiers.Done(); m.copyLines(stderr, logs.Stderr) }()

	m.awaitInit(pid)
	state, waitErr := m.process.Wait()
	exit := exitStatus(state, waitErr)
	m.obs.end()
	if !waitTimeout(&copiers, drainTimeout) {
		stdout.Close()
		stderr.Close()
		copiers.Wait()
	}
	m.mu.Lock()
	exit.AckedSeq, exit.LastSeq = m.ackedSeq, m.lastSeq
	exit.Requested = m.stopping
	m.mu.Unlock()
	if err := m.container.Destroy(); err != nil {
		fmt.Fprintf(os.Stderr, "destroy container %s: %v\n", m.cfg.ID, err)
	}
	// Not synced: the record lives in the exec root, which a reboot
	// empties, and a disable waits for it (the daemon hears of the exit
	// only after it is written). After a power loss without a reboot of
	// the exec root, a record lost or empty only changes what the next
	// daemon logs of the run: the store, synced, says what runs.
	if err := atomicfile.WriteRunStateJSON(filepath.Join(m.dir, exitFile), exit, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "record exit status: %v\n", err)
	}
	if m.log != nil {
		m.log.Close()
	}

	m.mu.Lock()
	m.exit = &exit
	m.cond.Broadcast()
	// The daemon that started this run attaches just after it reads the
	// start result. A plugin that exits at once must not take its monitor
	// with it before then, or that daemon learns only that no monitor
	// runs, not how the plugin ended and what it wrote. A daemon that died
	// meanwhile leaves the exit file to the next one.
	if !m.attached {
		expired := false // guarded by m.mu
		wake := time.AfterFunc(exitDeliveryTimeout, func() {
			m.mu.Lock()
			expired = true
			m.cond.Broadcast()
			m.mu.Unlock()
		})
		for !m.attached && !expired {
			m.cond.Wait()
		}
		wake.Stop()
	}
	s := m.session
	m.mu.Unlock()
	if s != nil {
		select {
		case <-s.done:
		case <-time.After(exitDeliveryTimeout):
		}
	}
	// The init's exit ended every exec process with its PID namespace:
	// their sessions end as soon as their exits are sent.
	waitTimeout(&m.execs, exitDeliveryTimeout)
	return 0
}

// openLog opens the plugin's log file and continues its numbering. A log
// that cannot be opened does not keep the plugin from running: its lines
// are then counted as unstored, and still reach the daemon.
func (m *monitor) openLog() {
	last, err := logs.LastSeq(m.cfg.LogPath)
	// Lines of the previous run that the log could not take count too.
	m.lastSeq = max(last, m.cfg.MinLastSeq)
	m.ackedSeq = m.lastSeq
	if err != nil {
		// Numbering from 0 would reuse sequence numbers: keep no history
		// for this run rather than a wrong one.
		fmt.Fprintf(os.Stderr, "read last line of %s: %v; this run's lines are not stored\n", m.cfg.LogPath, err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(m.cfg.LogPath), 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "create log dir: %v\n", err)
		return
	}
	f, err := logs.OpenRotating(m.cfg.LogPath, m.cfg.LogMaxSize, m.cfg.LogMaxFiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "open plugin log: %v\n", err)
		return
	}
	f.SetReserve(m.cfg.LogReserve)
	m.log = f
}

// startContainer creates and starts the plugin container with pipes for its
// stdout and stderr, and returns the read ends.
func (m *monitor) startContainer() (stdout, stderr *os.File, retErr error) {
	lcfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:   m.cfg.ID,
		NoNewKeyring: true,
		Spec:         m.cfg.Spec,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("convert spec: %w", err)
	}
	ct, err := libcontainer.Create(m.cfg.StateRoot, m.cfg.ID, lcfg)
	if err != nil {
		// What a monitor of this directory that was killed left: the
		// container (ErrExist) or processes in its cgroup (libcontainer
		// refuses a cgroup that is not empty). Holding the directory, this
		// monitor is the container's only owner: remove it, then try once
		// more.
		cerr := removeContainer(m.cfg.StateRoot, m.cfg.ID)
		if cerr == nil && lcfg.Cgroups != nil && lcfg.Cgroups.Path != "" {
			cerr = removeCgroups(lcfg.Cgroups.Path)
		}
		if cerr != nil {
			return nil, nil, fmt.Errorf("create container: %w; remove what an earlier run left: %w", err, cerr)
		}
		ct, err = libcontainer.Create(m.cfg.StateRoot, m.cfg.ID, lcfg)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create container: %w", err)
	}
	m.clock.mark("create container")
	defer func() {
		if retErr != nil {
			_ = ct.Destroy()
		}
	}()

	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, err
	}
	for _, f := range []*os.File{outW, errW} {
		// Best effort: a smaller pipe only costs more wake-ups.
		_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
	}
	sp := m.cfg.Spec.Process
	p := &libcontainer.Process{
		Args:   sp.Args,
		Env:    sp.Env,
		Cwd:    sp.Cwd,
		UID:    int(sp.User.UID),
		GID:    int(sp.User.GID),
		Stdout: outW,
		Stderr: errW,
		Init:   true,
	}
	initOneProc()
	err = ct.Run(p)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, nil, fmt.Errorf("start container: %w", err)
	}
	// Cgroups, the init's re-execution, namespaces, mounts, pivot_root
	// and the exec of the plugin's entrypoint.
	m.clock.mark("run container")
	m.container, m.process, m.startedAt = ct, p, time.Now()
	return outR, errR, nil
}

// copyLines reads one stdio stream until EOF and appends its lines. An
// unfinished line is flushed after idleFlush without more output, so a
// prompt or a last line without a newline shows up at once.
func (m *monitor) copyLines(f *os.File, stream string) {
	sp := logs.NewSplitter(stream, logs.MaxPiece)
	buf := make([]byte, readSize)
	for {
		if sp.Pending() {
			_ = f.SetReadDeadline(time.Now().Add(idleFlush))
		} else {
			_ = f.SetReadDeadline(time.Time{})
		}
		n, err := f.Read(buf)
		now := time.Now().UnixNano()
		switch {
		case err == nil:
			m.append(sp, stream, now, buf[:n], none)
		case errors.Is(err, os.ErrDeadlineExceeded):
			m.append(sp, stream, now, buf[:n], idle)
		default: // EOF, or the pipe was closed after the drain timeout
			m.append(sp, stream, now, buf[:n], final)
			return
		}
	}
}

// flushMode says what append does with an unfinished line after the data.
type flushMode uint8

const (
	none  flushMode = iota // keep it for the next read
	idle                   // pass it on as a Partial piece: the stream went idle
	final                  // pass it on whole: the stream ended
)

// chunk is the records of consecutive lines, each ending in a newline, as
// one append wrote them to the log file. A chunk is never changed once in
// the spool, so a session writes it without holding the lock.
type chunk struct {
	first uint64   // seq of the first record
	data  []byte   // the records
	ends  []uint32 // ends[i]: the end of record first+i in data
}

// last returns the seq of the chunk's last record.
func (c *chunk) last() uint64 { return c.first + uint64(len(c.ends)) - 1 }

// size is what the chunk costs in memory, as counted against maxUnacked.
func (c *chunk) size() int { return cap(c.data) + 4*cap(c.ends) }

// recordOverhead is about what a record adds to its line: seq, time and
// stream, with up to 20 digits for the seq, and the newline.
const recordOverhead = 96

// from returns the records from seq on (seq within the chunk).
func (c *chunk) from(seq uint64) []byte {
	if seq <= c.first {
		return c.data
	}
	return c.data[c.ends[seq-c.first-1]:]
}

// append numbers the lines that data completes (and the unfinished one,
// as flush says), writes their records to the log file and queues them for
// the attached daemon. The records are encoded straight from data: no line
// becomes a string of its own.
func (m *monitor) append(sp *logs.Splitter, stream string, now int64, data []byte, flush flushMode) {
	if len(data) == 0 && (flush == none || !sp.Pending()) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	first := m.lastSeq + 1
	// The chunk's own buffers, sized for the records of data's lines so
	// that they seldom grow: the log file is written from them, and the
	// spool keeps them as they are.
	n := bytes.Count(data, []byte{'\n'}) + 1
	buf, ends := make([]byte, 0, len(data)+recordOverhead*n), make([]uint32, 0, n)
	add := func(line []byte, partial bool) {
		m.lastSeq++
		buf = append(logs.AppendLineJSON(buf, m.lastSeq, now, stream, line, partial), '\n')
		ends = append(ends, uint32(len(buf)))
	}
	sp.Cut(data, add)
	if flush != none {
		sp.FlushCut(flush == final, add)
	}
	if len(ends) == 0 {
		return
	}
	if m.log == nil {
		m.unstored += uint64(len(ends))
	} else if _, err := m.log.Write(buf); errors.Is(err, logs.ErrRotate) {
		fmt.Fprintf(os.Stderr, "rotate plugin log (lines kept in the current file): %v\n", err)
	} else if err != nil {
		// The plugin must never block on a full disk: count and go on.
		if m.unstored == 0 || m.unstored%10000 == 0 {
			fmt.Fprintf(os.Stderr, "write plugin log: %v\n", err)
		}
		m.unstored += uint64(len(ends))
	}
	c := chunk{first: first, data: buf, ends: ends}
	m.unacked = append(m.unacked, c)
	m.unackedB += c.size()
	for m.unackedB > maxUnacked && len(m.unacked) > 1 {
		m.dropOldest()
	}
	m.cond.Broadcast()
}

// dropOldest drops the oldest chunk of the spool. m.mu is held.
func (m *monitor) dropOldest() {
	m.unackedB -= m.unacked[0].size()
	m.unacked[0] = chunk{}
	m.unacked = m.unacked[1:]
}

func (m *monitor) ack(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.unacked) > 0 && m.unacked[0].last() <= seq {
		m.dropOldest()
	}
	m.ackedSeq = max(m.ackedSeq, seq)
}

// stop sends SIGTERM and, after grace, SIGKILL to the container's init.
func (m *monitor) stop(grace time.Duration) {
	m.mu.Lock()
	exited := m.exit != nil
	m.stopping = true
	m.mu.Unlock()
	if exited {
		return
	}
	if grace <= 0 {
		_ = m.container.Signal(unix.SIGKILL)
		return
	}
	_ = m.container.Signal(unix.SIGTERM)
	time.AfterFunc(grace, func() {
		m.mu.Lock()
		exited := m.exit != nil
		m.mu.Unlock()
		if !exited {
			_ = m.container.Signal(unix.SIGKILL)
		}
	})
}

func exitStatus(state *os.ProcessState, err error) types.PluginExit {
	s := types.PluginExit{ExitedAt: time.Now()}
	if state == nil {
		s.ExitCode = -1
		if err != nil {
			s.Error = err.Error()
		} else {
			s.Error = "no process state"
		}
		return s
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		s.Signal = unix.SignalName(ws.Signal())
		s.ExitCode = 128 + int(ws.Signal())
	default:
		s.ExitCode = state.ExitCode()
	}
	return s
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// initOneProc has the container's init run its Go runtime on one P:
// libcontainer hands the init this process's GOMAXPROCS. The init sets up
// namespaces and mounts on one thread and then execs the plugin, so more Ps
// only cost it threads to start and, with GOMAXPROCS unset, a read of the
// container's CPU cgroup files. The plugin does not inherit it: its
// environment is the spec's. This process's own runtime read GOMAXPROCS
// when it started, and is not changed.
func initOneProc() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		_ = os.Setenv("GOMAXPROCS", "1")
	}
}

// processName is the monitor's name in ps, top and /proc/PID/comm, which the
// kernel cuts to 15 bytes.
const processName = "plugdbgd-monitor"

// nameProcess gives the monitor its name: started from the daemon's
// sealed copy of its binary (Launcher.Seal), through /proc/self/fd/N, the
// kernel would name it after the descriptor's number. The name is each
// thread's own, and a new thread inherits its creator's: the runtime may
// start a thread from one not yet renamed while the others are, so the
// threads are listed again until every one has the name; threads started
// after that inherit it.
func nameProcess() {
	const rounds = 20
	for range rounds {
		tasks, _ := filepath.Glob("/proc/self/task/*/comm")
		renamed := 0
		for _, comm := range tasks {
			if b, err := os.ReadFile(comm); err == nil && string(b) == commName+"\n" {
				continue
			}
			if os.WriteFile(comm, []byte(processName), 0) == nil {
				renamed++
			}
		}
		if renamed == 0 {
			return
		}
	}
}

// commName is processName as the kernel keeps it.
var commName = processName[:min(len(processName), 15)]
