package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/callstats"
	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/container"
)

// ExecMediaType is the Content-Type of an upgraded exec stream.
const ExecMediaType = "application/vnd.plugdbg.exec-stream"

// exec starts a process in running plugin ref of b and hijacks the
// connection for its session (package execproto): HTTP 101, then frames
// both ways until the Exit frame. Errors found before the start (unknown
// or disabled plugin, a stop under way, bad request) are ordinary HTTP
// errors; a command that cannot be started is reported in the Exit frame
// with status 127 or 126.
func (s *Server) exec(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	var c types.ExecConfig
	if err := decodeBody(w, r, routeExec, maxExecBody, &c); err != nil {
		writeBodyError(w, err, "invalid exec config")
		return
	}
	// Before the upgrade, so that a bad request is a 400 rather than an
	// Exit frame, and before start, so that nothing runs with it.
	if err := c.Validate(); err != nil {
		writeErr(w, errkind.Invalid(fmt.Errorf("invalid exec config: %w", err)))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeErr(w, errors.New("exec needs a connection that can be upgraded"))
		return
	}
	proc, err := b.Exec(r.Context(), ref, c)
	var se *execproto.StartError
	if err != nil && !errors.As(err, &se) {
		writeErr(w, err)
		return
	}
	kill := func() {
		if proc != nil {
			_ = proc.Signal(unix.SIGKILL)
			proc.Wait()
			_ = proc.Close()
		}
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		kill()
		s.log.WithError(err).Warn("exec: hijack connection")
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: plugdbg-exec\r\n\r\n", ExecMediaType); err != nil {
		kill()
		return
	}
	out := execproto.NewWriter(conn)
	if se != nil {
		_ = out.WriteJSON(execproto.Exit, types.ExecExit{ExitCode: se.ExitCode, Error: se.Msg})
		return
	}
	st := execproto.Serve(proc, execproto.NewReader(brw.Reader), out)
	s.log.WithField("plugin", ref).Debugf("exec %q ended: %+v", c.Cmd, st)
}

// top answers the processes of a running plugin (types.Top): its own
// columns (PID USER TIME CMD, the plugin's user names), or those of ps with
// the ps_args given (psTop).
func (s *Server) top(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	t, err := b.Top(r.Context(), ref)
	if err == nil && r.URL.Query().Get("ps_args") != "" {
		// The Engine API's ps_args, as `docker top CONTAINER [ps OPTIONS]`.
		t, err = psTop(r.Context(), t, strings.Fields(r.URL.Query().Get("ps_args")))
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// statsInterval is the time between two samples of a stats stream; a
// single report compares two samples statsOnce apart.
const (
	statsInterval = time.Second
	statsOnce     = 500 * time.Millisecond
)

// stats sends types.StatsReport objects: one with stream=0 (the default
// for plugdbg), or one per second with stream=1 until the client leaves or
// the plugin stops (then a last {"message": why}).
func (s *Server) stats(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	stream, err := boolValue(r, "stream")
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	p, err := b.Inspect(r.Context(), ref)
	if err != nil {
		writeErr(w, err)
		return
	}
	// Sampled by ID: a name could be given to another plugin meanwhile.
	prev, err := b.Stats(r.Context(), p.ID)
	if err != nil {
		writeErr(w, err)
		return
	}
	prevCalls, prevAt := sampleCalls(r.Context(), b, p.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	wait := statsOnce
	for {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(wait):
		}
		cur, err := b.Stats(r.Context(), p.ID)
		if err != nil {
			// The plugin stopped: end the stream, with the reason last.
			_ = enc.Encode(map[string]string{"message": err.Error()})
			return
		}
		rep := types.StatsReport{ID: p.ID, Name: p.Name, Stats: cur, CPUPercent: container.CPUPercent(prev, cur)}
		curCalls, curAt := sampleCalls(r.Context(), b, p.ID)
		if prevCalls != nil && curCalls != nil {
			rates := callstats.Diff(*prevCalls, *curCalls).CallRates(curAt.Sub(prevAt).Seconds())
			rep.Calls = &rates
		}
		if enc.Encode(rep) != nil || !stream {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		prev, wait = cur, statsInterval
		prevCalls, prevAt = curCalls, curAt
	}
}

// sampleCalls reads the call counters of plugin id and when it did, or nil
// when no recording point counts its calls (not observed, or the point not
// in place): stats then shows no call figures, rather than failing.
func sampleCalls(ctx context.Context, b Backend, id string) (*types.CallStats, time.Time) {
	c, err := b.Calls(ctx, id)
	at := time.Now()
	if err != nil || !c.Recording {
		return nil, at
	}
	return &c, at
}
