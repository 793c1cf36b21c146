package execproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
)

// Process is a started process that a session drives. The runtime
// implements it; Serve is its only user.
type Process interface {
	// Stdin is the process's stdin, or nil if it is not attached.
	Stdin() io.WriteCloser
	// Output returns the process's output streams, each read until io.EOF.
	// With a TTY, stderr is nil: everything comes through stdout.
	Output() (stdout, stderr io.Reader)
	// Resize sets the window size of the process's terminal; an error
	// without a TTY.
	Resize(types.WindowSize) error
	// Signal sends sig to the process.
	Signal(sig syscall.Signal) error
	// Wait waits for the process to exit.
	Wait() types.ExecExit
	// Close releases the process's stdio. Output readers then return.
	Close() error
}

// Group is a Process that can reach the processes it started. When the
// client goes away, Serve hangs up the whole group, so that no child of
// the session outlives it.
type Group interface {
	// SignalGroup sends sig to the process and to every process it
	// started that still runs, and returns how many that was. Signal 0
	// sends nothing and only counts them.
	SignalGroup(sig syscall.Signal) (int, error)
}

// Timing of a session's end. Variables so that tests can shorten them.
var (
	// DrainTimeout bounds the wait for the end of output once the process
	// has exited, in case a background child still holds its stdio.
	DrainTimeout = 2 * time.Second
	// HangupGrace is the time between SIGHUP and SIGKILL for a process whose
	// client went away.
	HangupGrace = 5 * time.Second
)

// hangupPoll is how often a hang-up looks whether a group has ended.
const hangupPoll = 50 * time.Millisecond

// Serve runs a session: it sends the process's output to out, applies the
// client's frames from in (stdin, resize, signals), and ends with an Exit
// frame once the process has exited and its output is drained. It returns
// the exit status. A client that goes away before the process has exited
// hangs the process up, as a closed terminal would: SIGHUP, then SIGKILL
// after HangupGrace. Serve closes p.
func Serve(p Process, in *Reader, out *Writer) types.ExecExit {
	var st types.ExecExit
	exited := make(chan struct{})
	go func() { st = p.Wait(); close(exited) }()

	var copiers sync.WaitGroup
	stdout, stderr := p.Output()
	for _, s := range []struct {
		r io.Reader
		t Type
	}{{stdout, Stdout}, {stderr, Stderr}} {
		if s.r == nil {
			continue
		}
		copiers.Go(func() { copyOutput(s.r, StreamWriter{W: out, T: s.t}) })
	}

	clientGone := make(chan struct{})
	go func() {
		defer close(clientGone)
		readClient(p, in)
	}()

	select {
	case <-exited:
	case <-clientGone:
		hangup(p, exited)
		<-exited
	}
	drained := make(chan struct{})
	go func() { copiers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(DrainTimeout):
	}
	_ = p.Close()
	<-drained
	_ = out.WriteJSON(Exit, st)
	return st
}

// copyOutput copies one output stream to w until EOF. If the client is
// gone, it keeps reading, so the process never blocks on a full pipe.
func copyOutput(r io.Reader, w io.Writer) {
	buf := make([]byte, 32<<10)
	var werr error
	for {
		n, err := r.Read(buf)
		if n > 0 && werr == nil {
			_, werr = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// readClient applies the client's frames until the client goes away.
func readClient(p Process, in *Reader) {
	stdin := p.Stdin()
	closeStdin := func() {
		if stdin != nil {
			_ = stdin.Close()
			stdin = nil
		}
	}
	defer closeStdin()
	for {
		f, err := in.ReadFrame()
		if err != nil {
			return
		}
		switch f.Type {
		case Stdin:
			if stdin != nil {
				if _, err := stdin.Write(f.Payload); err != nil {
					closeStdin() // the process closed its stdin
				}
			}
		case CloseStdin:
			closeStdin()
		case Resize:
			var ws types.WindowSize
			if json.Unmarshal(f.Payload, &ws) == nil && ws.Height > 0 && ws.Width > 0 {
				_ = p.Resize(ws)
			}
		case Signal:
			if sig, err := ParseSignal(string(f.Payload)); err == nil {
				_ = p.Signal(sig)
			}
		}
	}
}

// hangup ends a process whose client went away: SIGHUP, then SIGKILL. A
// Group is hung up whole, and SIGCONT wakes its stopped jobs so that they
// see the SIGHUP, as the kernel does for an orphaned process group.
func hangup(p Process, exited <-chan struct{}) {
	g, ok := p.(Group)
	if !ok {
		_ = p.Signal(sigHUP)
		select {
		case <-exited:
		case <-time.After(HangupGrace):
			_ = p.Signal(sigKILL)
		}
		return
	}
	_, _ = g.SignalGroup(sigHUP)
	_, _ = g.SignalGroup(sigCONT)
	grace := time.NewTimer(HangupGrace)
	defer grace.Stop()
	tick := time.NewTicker(hangupPoll)
	defer tick.Stop()
	for {
		select {
		case <-grace.C:
			killGroup(g)
			return
		case <-tick.C:
			if n, err := g.SignalGroup(0); err != nil || n == 0 {
				return
			}
		}
	}
}

// killGroup sends SIGKILL to g until none of it runs: a process may fork
// between the listing of the group and its kill. It gives up after
// killRounds, on processes that a SIGKILL does not end (stuck in the
// kernel), which the plugin's stop still ends.
func killGroup(g Group) {
	const killRounds = 100
	for range killRounds {
		if n, err := g.SignalGroup(sigKILL); err != nil || n == 0 {
			return
		}
		time.Sleep(hangupPoll / 5)
	}
}

// ParseSignal parses "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := signalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, errors.New("unknown signal " + s)
}

// SignalName is the name of sig, e.g. "SIGTERM".
func SignalName(sig syscall.Signal) string {
	if n := signalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("SIG%d", int(sig))
}
