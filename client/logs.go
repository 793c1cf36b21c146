package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unsafe"

	"github.com/moby/moby/api/types/events"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// LogsOptions select the lines Logs streams.
type LogsOptions struct {
	Follow       bool
	Since, Until time.Time
	Tail         *int // nil: all; 0: none (only what follows)
	Stream       string
	Grep         string // a regexp, applied by the daemon
	// OnIdle, if set, is called whenever every line received so far has
	// been handed to fn: the moment to flush a buffered output.
	OnIdle func()
	// InPlace says that fn keeps no LogLine, nor any string of one, after
	// it returns (a printer): each line is then decoded where it was read,
	// without a copy of its text.
	InPlace bool
}

// Logs streams the lines of plugin ref ("" for every plugin) to fn until
// the history ends, or with Follow until ctx ends.
func (c *Client) Logs(ctx context.Context, ref string, o LogsOptions, fn func(types.LogLine) error) error {
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "1")
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.Format(time.RFC3339Nano))
	}
	if !o.Until.IsZero() {
		q.Set("until", o.Until.Format(time.RFC3339Nano))
	}
	if o.Tail != nil {
		q.Set("tail", strconv.Itoa(*o.Tail))
	}
	if o.Stream != "" {
		q.Set("stream", o.Stream)
	}
	if o.Grep != "" {
		q.Set("grep", o.Grep)
	}
	path := "/logs"
	if ref != "" {
		path = "/plugins/" + ref + "/logs"
	}
	resp, err := c.send(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// One JSON object a line (application/x-ndjson), each in the form
	// the daemon writes (logs.Record in APIForm) decoded without
	// reflection: a follower of a flooding plugin reads hundreds of
	// thousands a second. Any other line goes to encoding/json.
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var rec logs.Record
	for {
		if o.OnIdle != nil && br.Buffered() == 0 {
			o.OnIdle()
		}
		line, err := readLogLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			l, derr := decodeLogLine(line, &rec, o.InPlace)
			if derr != nil {
				if ctx.Err() != nil {
					return nil
				}
				return derr
			}
			if err := fn(l); err != nil {
				return err
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read logs: %w", err)
		}
	}
}

// decodeLogLine decodes one line of a logs stream, its newline included:
// through logs.DecodeAPIRecord, into rec, if it is in the form the daemon
// writes (rec keeps the plugin's ID and name from one line to the next),
// else through encoding/json. An error line of the stream is returned as
// an error. With inPlace the line's strings may be line's own bytes
// (logs.DecodeAPIRecordIn).
func decodeLogLine(line []byte, rec *logs.Record, inPlace bool) (types.LogLine, error) {
	// The newline is cut first: the fast decoder takes the record alone,
	// and with it every line went to encoding/json.
	record := bytes.TrimSuffix(line, []byte("\n"))
	var fast bool
	if inPlace {
		fast = logs.DecodeAPIRecordIn(unsafe.String(unsafe.SliceData(record), len(record)), rec)
	} else {
		fast = logs.DecodeAPIRecord(record, rec)
	}
	if fast {
		return types.LogLine{Plugin: rec.Plugin, Name: rec.Name, Seq: rec.Seq, Time: rec.Time, Stream: rec.Stream,
			Line: rec.Line, LineB64: rec.LineB64, Partial: rec.Partial, Skipped: rec.Skipped}, nil
	}
	var v struct {
		types.LogLine
		Error string `json:"error"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return types.LogLine{}, fmt.Errorf("read logs: %w", err)
	}
	if v.Error != "" {
		return types.LogLine{}, errors.New(v.Error)
	}
	return v.LogLine, nil
}

// maxLogLine bounds one line of a logs stream: a 64 KiB piece of a plugin
// line, every byte escaped, is under 400 KiB.
const maxLogLine = 4 << 20

// readLogLine returns the next line of r with its newline, or what is left
// before an error.
func readLogLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(long) > maxLogLine {
			return nil, fmt.Errorf("a line longer than %d bytes", maxLogLine)
		}
		line, err = r.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

// Events streams lifecycle events to fn until ctx ends.
func (c *Client) Events(ctx context.Context, since time.Time, fn func(events.Message) error) error {
	return c.WatchEvents(ctx, EventsOptions{Since: since}, fn)
}

// EventsOptions select the events WatchEvents streams, as the Engine API's
// /events takes them.
type EventsOptions struct {
	// Since replays the recent events from then on; Until ends the stream
	// (past events only when it is past). Zero: not set.
	Since, Until time.Time
	// Filters are docker's: plugin=NAME|ID, type=plugin, event=ACTION;
	// values of one key are alternatives, keys must all match.
	Filters map[string][]string
}

// WatchEvents streams the events o selects to fn until ctx ends, fn fails
// or o.Until passes.
func (c *Client) WatchEvents(ctx context.Context, o EventsOptions, fn func(events.Message) error) error {
	q := url.Values{}
	for key, t := range map[string]time.Time{"since": o.Since, "until": o.Until} {
		if !t.IsZero() {
			q.Set(key, strconv.FormatInt(t.Unix(), 10)+"."+fmt.Sprintf("%09d", t.Nanosecond()))
		}
	}
	if len(o.Filters) > 0 {
		// The Engine API's modern form: {"key":{"value":true}}.
		f := map[string]map[string]bool{}
		for k, vs := range o.Filters {
			f[k] = map[string]bool{}
			for _, v := range vs {
				f[k][v] = true
			}
		}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode filters: %w", err)
		}
		q.Set("filters", string(b))
	}
	resp, err := c.send(ctx, http.MethodGet, "/events", q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeEach(ctx, resp.Body, "events", fn)
}

// decodeEach hands fn each JSON value of a streamed answer, in order, until
// the stream or ctx ends (nil), fn fails or a value is not a T.
func decodeEach[T any](ctx context.Context, r io.Reader, what string, fn func(T) error) error {
	dec := json.NewDecoder(r)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}
