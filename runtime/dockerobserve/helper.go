package dockerobserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/runtime/observe"
)

// drainConns bounds how long an ended helper waits for the connections
// open through its point: calls in flight get that long to be answered,
// then the connections close. A client that keeps connections alive (as
// dockerd does, with no idle timeout) sees an idle one closed, and dials
// again, the plugin itself now.
const drainConns = 10 * time.Second

// readyReport is the one JSON line a helper writes on its stdout once it
// serves its control socket, or why it could not start (Fatal: it exits).
type readyReport struct {
	Status
	Fatal string `json:"Fatal,omitempty"`
}

// waitReply answers GET /wait once the helper ends.
type waitReply struct {
	Reason string `json:"Reason"`
}

// endReply answers POST /end: the plugin's socket is back, or Error says
// why it is not.
type endReply struct {
	Error string `json:"Error,omitempty"`
}

// Main runs a helper for plugin args[1] (an ID), whose files are in the
// directory args[0], and returns its exit code. The daemon starts it in a
// session of its own (Start) and reads one readyReport on its stdout; the
// helper then serves its control socket until it is ended (POST /end,
// SIGTERM or SIGINT), whether the daemon that started it lives or not.
func Main(args []string) int {
	// A write to a broken pipe (the report, to a daemon killed meanwhile)
	// fails with EPIPE instead of killing the helper.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: plugdbgd", Argv1, "DIR ID")
		return 2
	}
	unix.Umask(0o077) // the control socket and the files are root's alone
	h := &helper{fs: files{args[0], args[1]}, ended: make(chan struct{})}
	if err := h.setup(); err != nil {
		h.logf("%v", err)
		report(readyReport{Fatal: err.Error()})
		return 1
	}
	report(readyReport{Status: h.f.status()})
	return h.serve()
}

// report writes the ready report for the daemon, then points stdout at
// /dev/null: the pipe is the report's alone, and the daemon may be gone.
func report(r readyReport) {
	_ = json.NewEncoder(os.Stdout).Encode(r)
	if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		_ = unix.Dup2(int(devnull.Fd()), 1)
		devnull.Close()
	}
}

type helper struct {
	fs    files
	cfg   Config
	lock  *os.File
	ln    net.Listener
	stats *observe.Stats
	f     *follower

	once   sync.Once
	ended  chan struct{} // closed once end has run
	reason string
	point  *observe.Point // the point end took off, if any
	endErr error
}

func (h *helper) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s docker observe %s: %s\n", time.Now().Format(time.RFC3339Nano), h.fs.id, fmt.Sprintf(format, args...))
}

// setup takes the plugin's lock, undoes what a killed helper left, listens
// on the control socket and puts the point on the plugin's socket (or
// waits for it).
func (h *helper) setup() (retErr error) {
	if !pluginID.MatchString(h.fs.id) {
		return fmt.Errorf("invalid plugin ID %q", h.fs.id)
	}
	lock, err := lockFile(h.fs.lock())
	if errors.Is(err, errBusy) {
		return fmt.Errorf("another helper observes plugin %s (%s is locked)", h.fs.id, h.fs.lock())
	}
	if err != nil {
		return err
	}
	h.lock = lock
	defer func() {
		if retErr != nil {
			unlock(h.fs.lock(), h.lock)
		}
	}()
	data, err := readBounded(h.fs.config())
	if err != nil {
		return fmt.Errorf("read the helper's config: %w", err)
	}
	if err := json.Unmarshal(data, &h.cfg); err != nil {
		return fmt.Errorf("parse the helper's config %s: %w", h.fs.config(), err)
	}
	if h.cfg.ID != h.fs.id {
		return fmt.Errorf("config %s is for plugin %q", h.fs.config(), h.cfg.ID)
	}
	if err := h.cfg.check(); err != nil {
		return err
	}
	if err := repair(h.fs.record(), h.logf); err != nil {
		return err
	}
	_ = os.Remove(h.fs.sock()) // a dead helper's: the lock says none runs
	ln, err := net.Listen("unix", h.fs.sock())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", h.fs.sock(), err)
	}
	h.ln = ln
	h.stats = observe.NewStats()
	h.f = newFollower(h.cfg, h.fs.record(), h.stats, h.logf)
	if err := h.f.start(); err != nil {
		ln.Close()
		return err
	}
	h.logf("observing dockerd's plugin %s at %s", h.cfg.Name, h.cfg.Socket)
	return nil
}

// serve answers control requests until the helper is ended, then lets the
// connections through the point finish (up to drainConns).
func (h *helper) serve() int {
	srv := &http.Server{Handler: h.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(h.ln) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case s := <-sigs:
			_ = h.end("signal " + s.String())
		case <-h.ended:
		}
	}()
	<-h.ended
	// The answers to end and to the waits go out before the helper exits.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(ctx)
	cancel()
	if h.point != nil {
		done := make(chan struct{})
		go func() { h.point.Wait(); close(done) }()
		timer := time.NewTimer(drainConns)
		select {
		case <-done:
		case <-timer.C:
			h.logf("connections still open through the point after %s are closed", drainConns)
		}
		timer.Stop()
	}
	if h.endErr != nil {
		return 1
	}
	return 0
}

// end takes the point off (the plugin's socket goes back at its path),
// removes the helper's files and releases its lock, once: from then on
// the daemon may start another helper for the plugin.
func (h *helper) end(reason string) error {
	h.once.Do(func() {
		h.logf("ending (%s): the plugin's socket goes back", reason)
		h.reason = reason
		h.point, h.endErr = h.f.end()
		_ = os.Remove(h.fs.sock()) // accepted connections are still answered
		if h.endErr == nil {
			// Kept when the socket could not go back: the record is what
			// the next helper or the daemon repairs from, the log says why.
			_ = os.Remove(h.fs.config())
			_ = os.Remove(h.fs.log())
		} else {
			h.logf("%v", h.endErr)
		}
		unlock(h.fs.lock(), h.lock)
		close(h.ended)
	})
	return h.endErr
}

func (h *helper) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) {
		c := h.stats.Snapshot()
		st := h.f.status()
		c.Plugin, c.Name = h.cfg.ID, h.cfg.Name
		c.Observed, c.Recording, c.Error = true, st.Recording, st.Error
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("POST /end", func(w http.ResponseWriter, _ *http.Request) {
		var rep endReply
		if err := h.end("ended by the daemon"); err != nil {
			rep.Error = err.Error()
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("GET /wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-h.ended:
			writeJSON(w, http.StatusOK, waitReply{Reason: h.reason})
		case <-r.Context().Done():
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBounded reads a helper's config or record file, which is never
// larger than maxConfig.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxConfig {
		return nil, fmt.Errorf("read %s: over %d bytes", path, maxConfig)
	}
	return data, nil
}
