package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/internal/flushio"
	"github.com/plugdbg/plugdbg/logs"
)

// flushInterval bounds how long a followed line waits in the response
// buffer; batching the flushes keeps a fast plugin from costing a write per
// line.
const flushInterval = 10 * time.Millisecond

// Follower streams the lines of plugins (follow.Follower): see
// follow.Follower.Logs.
type Follower interface {
	Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error
}

// logs streams the lines of plugin ref of b as JSON objects, one per line
// (types.LogLine). Query: follow, since, until (RFC 3339 or unix seconds),
// tail (a number or "all"), stream (stdout|stderr), grep (a Go regexp,
// applied here so that only matching lines cross the socket). ref "" means
// every plugin.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	o, err := parseLogOptions(r)
	if err != nil {
		writeErr(w, errkind.Invalid(err))
		return
	}
	if ref != "" {
		if _, err := b.Inspect(r.Context(), ref); err != nil {
			writeErr(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	var after func()
	if f, ok := w.(http.Flusher); ok {
		after = f.Flush
		// Send the headers once the follower is subscribed, not before: a
		// follower of a plugin that has written nothing yet would otherwise
		// wait for them until its first line, and a client that writes to
		// the plugin as soon as it has them must not lose that line.
		o.Started = f.Flush
	}
	fw := flushio.New(w, 64<<10, flushInterval, after)
	defer fw.Close()
	o.SendCopies = true // the encoder writes each line out before it returns
	err = b.Logs(r.Context(), ref, o, newLineEncoder(fw).send)
	if err != nil {
		// Headers are gone: report in the stream, as a marker line.
		_ = json.NewEncoder(fw).Encode(map[string]string{"error": err.Error()})
	}
}

// lineEncoder writes each line of a logs stream as its JSON object
// (types.LogLine's form) and a newline, in one Write. A follower of a
// flooding plugin is sent hundreds of thousands of lines a second, nearly
// all of one plugin: the head of the object, its plugin's ID and name,
// is encoded once, not for each line, and one buffer serves every line.
// send is called from one goroutine (Follower.Logs).
type lineEncoder struct {
	w            io.Writer
	buf          []byte
	head         []byte // logs.AppendAPIHead of plugin and name
	plugin, name string
}

func newLineEncoder(w io.Writer) *lineEncoder { return &lineEncoder{w: w} }

func (e *lineEncoder) send(l types.LogLine) error {
	if l.Skipped != 0 {
		e.buf = append(l.AppendJSON(e.buf[:0]), '\n')
	} else {
		if e.head == nil || l.Plugin != e.plugin || l.Name != e.name {
			e.head = logs.AppendAPIHead(e.head[:0], l.Plugin, l.Name)
			e.plugin, e.name = l.Plugin, l.Name
		}
		if l.Record != "" {
			e.buf = append(logs.AppendAPIRaw(append(e.buf[:0], e.head...), l.Record), '\n')
		} else {
			r := logs.Record{Seq: l.Seq, Time: l.Time, Stream: l.Stream, Line: l.Line, LineB64: l.LineB64, Partial: l.Partial}
			e.buf = append(r.AppendAPIBody(append(e.buf[:0], e.head...)), '\n')
		}
	}
	_, err := e.w.Write(e.buf)
	if cap(e.buf) > maxKeptLine {
		e.buf = nil // a long line's buffer is not kept for the short ones
	}
	return err
}

// maxKeptLine bounds the buffer a lineEncoder keeps between lines.
const maxKeptLine = 64 << 10

func parseLogOptions(r *http.Request) (types.LogOptions, error) {
	q := r.URL.Query()
	var o types.LogOptions
	var err error
	if o.Follow, err = boolValue(r, "follow"); err != nil {
		return o, err
	}
	if o.Since, err = parseTime(q.Get("since")); err != nil {
		return o, fmt.Errorf("invalid since: %w", err)
	}
	if o.Until, err = parseTime(q.Get("until")); err != nil {
		return o, fmt.Errorf("invalid until: %w", err)
	}
	switch t := q.Get("tail"); t {
	case "", "all":
	default:
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return o, fmt.Errorf("invalid tail %q: want a number of lines or \"all\"", t)
		}
		o.Tail = n
		if n == 0 {
			o.Tail = -1 // no history, only what follows
		}
	}
	switch o.Stream = q.Get("stream"); o.Stream {
	case "", "stdout", "stderr":
	default:
		return o, fmt.Errorf("invalid stream %q: want stdout or stderr", o.Stream)
	}
	if g := q.Get("grep"); g != "" {
		if o.Grep, err = regexp.Compile(g); err != nil {
			return o, fmt.Errorf("invalid grep: %w", err)
		}
	}
	return o, nil
}

// parseTime reads RFC 3339 (with or without nanoseconds) or unix seconds
// with an optional fraction, as Docker's API takes them.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor unix seconds", v)
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor unix seconds", v)
		}
	}
	return time.Unix(s, ns), nil
}
