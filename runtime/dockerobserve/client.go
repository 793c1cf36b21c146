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
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

// errNoHelper means no helper answers on a plugin's control socket.
var errNoHelper = errors.New("no helper runs")

// maxReply bounds a helper's answer: counters of types.MaxMethods
// methods take a few hundred KiB at most.
const maxReply = 4 << 20

// Bounds of the daemon's requests to a helper.
const (
	readyTimeout = 10 * time.Second // a new helper's report
	askTimeout   = 3 * time.Second  // a read of the counters, a liveness check
	endTimeout   = 10 * time.Second // an end: the socket back, the queue served
)

// do sends a control request to f's helper and decodes its answer into
// out; an error wrapping errNoHelper if none listens.
func (f files) do(ctx context.Context, method, path string, out any) error {
	sock := f.sock()
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, method, "http://helper"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return fmt.Errorf("%w (%s): %v", errNoHelper, sock, oe.Err)
		}
		return fmt.Errorf("helper %s: %s %s: %w", sock, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("helper %s: %s %s: %s", sock, method, path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReply)).Decode(out); err != nil {
		return fmt.Errorf("helper %s: %s %s: %w", sock, method, path, err)
	}
	return nil
}

// calls reads the helper's counters, with its point's state.
func (f files) calls(ctx context.Context) (types.CallStats, error) {
	var c types.CallStats
	err := f.do(ctx, http.MethodGet, "/calls", &c)
	return c, err
}

// end ends the helper: it returns once the plugin's socket is back.
func (f files) end(ctx context.Context) error {
	var rep endReply
	if err := f.do(ctx, http.MethodPost, "/end", &rep); err != nil {
		return err
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	return nil
}

// wait waits, until ctx ends, for the helper to end, and returns why it
// did; an error if it went without a word (it was killed).
func (f files) wait(ctx context.Context) (string, error) {
	var rep waitReply
	err := f.do(ctx, http.MethodGet, "/wait", &rep)
	return rep.Reason, err
}

// startHelper starts a helper for cfg with the daemon's binary, in a
// session of its own so that it outlives the daemon, and returns its
// point's state once it serves its control socket.
func startHelper(ctx context.Context, binary string, f files, cfg Config) (Status, error) {
	if err := cfg.check(); err != nil {
		return Status{}, err
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return Status{}, fmt.Errorf("create %s: %w", f.dir, err)
	}
	if err := atomicfile.WriteJSON(f.config(), cfg, 0o600); err != nil {
		return Status{}, err
	}
	logf, err := os.OpenFile(f.log(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return Status{}, fmt.Errorf("open the helper's log: %w", err)
	}
	defer logf.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return Status{}, err
	}
	defer outR.Close()
	cmd := exec.Command(binary, Argv1, f.dir, f.id)
	cmd.Args[0] = argv0
	cmd.Dir = f.dir
	cmd.Stdout, cmd.Stderr = outW, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		return Status{}, fmt.Errorf("start the helper: %w", err)
	}
	// Reaped while the daemon lives; a daemon that dies leaves it to init.
	go func() { _ = cmd.Wait() }()

	got := make(chan error, 1)
	var rep readyReport
	go func() { got <- json.NewDecoder(io.LimitReader(outR, maxConfig)).Decode(&rep) }()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	select {
	case err = <-got:
	case <-ctx.Done():
		return Status{}, fmt.Errorf("the helper (pid %d) did not report within %s: see %s", cmd.Process.Pid, readyTimeout, f.log())
	}
	switch {
	case err != nil:
		return Status{}, fmt.Errorf("the helper ended before it reported: %s", logTail(f.log()))
	case rep.Fatal != "":
		return Status{}, errors.New(rep.Fatal)
	}
	return rep.Status, nil
}

// logTail is the end of a helper's log, for an error message.
func logTail(path string) string {
	const n = 2048
	f, err := os.Open(path)
	if err != nil {
		return "its log " + path + " cannot be read"
	}
	defer f.Close()
	buf := make([]byte, n)
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	off := max(size-n, 0)
	k, _ := f.ReadAt(buf, off)
	s := strings.TrimSpace(string(buf[:k]))
	if s == "" {
		return "its log " + path + " is empty"
	}
	if off > 0 {
		s = "…" + s
	}
	return s
}
