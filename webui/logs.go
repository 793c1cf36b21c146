package webui

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// Log streaming bounds. Variables so that tests can shorten them.
var (
	// batchEvery is the longest a followed line waits before it is sent:
	// lines go out in batches, one message per batch, not one per line.
	batchEvery = 20 * time.Millisecond
	// batchLines bounds a batch.
	batchLines = 500
	// maxTail and maxHistory bound what one request may ask of the
	// history.
	maxTail    = 5000
	maxHistory = 2000
)

// resumePoint is the last line of a plugin a page has: lines up to Seq
// are not sent again.
type resumePoint struct {
	Seq  uint64 `json:"seq"`
	Time int64  `json:"time"` // unix ns
}

// errLagged ends a follow whose page let its queue fill.
var errLagged = errors.New("page lags")

// logSub is a page's log subscription. Its follower sends batches of lines
// and records, per plugin, the last line queued for the page; when the
// page lets its queue fill, the follower stops, waits for the queue to
// drain, and starts again from the history after those lines: the page
// gets every line once, in order, late rather than never.
type logSub struct {
	id     string
	ref    string
	stream string
	grep   *regexp.Regexp
	tail   int
	cancel context.CancelFunc

	mu    sync.Mutex
	last  map[string]resumePoint // by plugin ID: the last line queued
	floor int64                  // on a resume, older lines of plugins not in last are the page's already
	batch []types.LogLine
}

type logsMsg struct {
	// "logs": live lines; "logs.history": an answer to logs.history;
	// "logs.following": the subscription is in place, every line written
	// from then on reaches the page (sent once, before its first lines);
	// "logs.lag": the page fell behind, the lines follow from the history.
	Type string `json:"type"`
	ID   string `json:"id"`
}

// compileGrep turns the page's filter into a regexp: a plain text matches
// anywhere, ignoring case.
func compileGrep(text string, isRegex bool) (*regexp.Regexp, error) {
	if text == "" {
		return nil, nil
	}
	if !isRegex {
		text = "(?i)" + regexp.QuoteMeta(text)
	}
	re, err := regexp.Compile(text)
	if err != nil {
		return nil, fmt.Errorf("invalid filter: %w", err)
	}
	return re, nil
}

func (c *conn) subscribeLogs(m inMsg) {
	grep, err := compileGrep(m.Grep, m.Regex)
	if err != nil {
		c.sendError(m.ID, err)
		return
	}
	switch m.Stream {
	case "", "stdout", "stderr":
	default:
		c.sendError(m.ID, fmt.Errorf("invalid stream %q", m.Stream))
		return
	}
	if m.Plugin != "" {
		if _, err := c.s.o.Backend.Inspect(m.Plugin); err != nil {
			c.sendError(m.ID, err)
			return
		}
	}
	c.unsubscribeLogs()
	ctx, cancel := context.WithCancel(c.ctx)
	sub := &logSub{id: m.ID, ref: m.Plugin, stream: m.Stream, grep: grep, tail: min(max(m.Tail, 0), maxTail), cancel: cancel, last: map[string]resumePoint{}}
	for id, p := range m.Resume {
		sub.last[id] = p
		sub.floor = max(sub.floor, p.Time)
	}
	c.mu.Lock()
	c.logs = sub
	c.mu.Unlock()
	go c.followLogs(ctx, sub)
}

func (c *conn) unsubscribeLogs() {
	c.mu.Lock()
	sub := c.logs
	c.logs = nil
	c.mu.Unlock()
	if sub != nil {
		sub.cancel()
	}
}

// followLogs runs sub until ctx ends.
func (c *conn) followLogs(ctx context.Context, sub *logSub) {
	resuming := len(sub.last) > 0
	started := false
	for ctx.Err() == nil {
		o := types.LogOptions{Follow: true, Stream: sub.stream, Grep: sub.grep}
		if !started {
			// Tells the page (and tests) when a line it writes next is
			// sure to be followed: a subscription with no history to send
			// shows nothing else until then.
			o.Started = func() {
				started = true
				c.sendMust(logsMsg{Type: "logs.following", ID: sub.id})
			}
		}
		if resuming {
			o.Since = sub.since()
		} else if o.Tail = sub.tail; o.Tail == 0 {
			o.Tail = -1 // no history: only what follows
		}
		err := c.followOnce(ctx, sub, o)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errLagged) {
			if err != nil {
				c.sendError(sub.id, err)
			}
			return
		}
		// Let the page catch up with what it has, then resume from the
		// history after the last line queued.
		c.sendMust(logsMsg{Type: "logs.lag", ID: sub.id})
		for c.queued() > c.s.tune.sendQueue/4 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		sub.mu.Lock()
		for _, p := range sub.last {
			sub.floor = max(sub.floor, p.Time)
		}
		sub.mu.Unlock()
		resuming = true
	}
}

// since is where a resumed follow starts reading: the oldest last line
// (inclusive: lines with its time and a later seq may follow it).
func (s *logSub) since() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t int64
	for _, p := range s.last {
		if t == 0 || p.Time < t {
			t = p.Time
		}
	}
	if t == 0 {
		return time.Now()
	}
	return time.Unix(0, t)
}

// followOnce follows until ctx ends (nil) or the page lags (errLagged).
func (c *conn) followOnce(ctx context.Context, sub *logSub, o types.LogOptions) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub.mu.Lock()
	sub.batch = sub.batch[:0] // lines a lag dropped: read again below
	sub.mu.Unlock()
	// Both the ticker below and the follow flush: either may find the
	// page lagging.
	var lagged atomic.Bool
	flush := func() bool {
		if !c.flushLogs(sub) {
			lagged.Store(true)
			cancel()
			return false
		}
		return true
	}
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Go(func() {
		t := time.NewTicker(c.s.tune.batchEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-fctx.Done():
				return
			case <-t.C:
				flush()
			}
		}
	})
	err := c.s.o.Backend.Logs(fctx, sub.ref, o, func(l types.LogLine) error {
		sub.mu.Lock()
		if l.Seq != 0 {
			if p, ok := sub.last[l.Plugin]; ok && l.Seq <= p.Seq {
				sub.mu.Unlock()
				return nil // the page has it
			} else if !ok && l.Time < sub.floor {
				sub.mu.Unlock()
				return nil
			}
		}
		sub.batch = append(sub.batch, l)
		full := len(sub.batch) >= c.s.tune.batchLines
		sub.mu.Unlock()
		if full && !flush() {
			return errLagged
		}
		return nil
	})
	close(done)
	ticking.Wait() // no flush of this follow may overlap the next one
	if lagged.Load() {
		return errLagged
	}
	if err != nil {
		return err
	}
	if ctx.Err() == nil && !flush() {
		return errLagged
	}
	return nil
}

// flushLogs queues the pending batch and records its lines as the page's.
// It reports false if the page's queue stayed full: the batch is dropped
// and will be read again from the history.
func (c *conn) flushLogs(sub *logSub) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.batch) == 0 {
		return true
	}
	b := appendLogsMsg(nil, "logs", sub.id, sub.batch)
	if !c.send(b, c.s.tune.blockWait) {
		sub.batch = sub.batch[:0]
		return false
	}
	for _, l := range sub.batch {
		if l.Seq != 0 {
			sub.last[l.Plugin] = resumePoint{Seq: l.Seq, Time: l.Time}
		}
	}
	sub.batch = sub.batch[:0]
	return true
}

// history answers logs.history: up to m.Tail lines before the line m
// names (or, with only a time, before that time), with the
// subscription's filters, in one message.
func (c *conn) history(m inMsg) {
	grep, err := compileGrep(m.Grep, m.Regex)
	if err != nil {
		c.sendError(m.ID, err)
		return
	}
	o := types.LogOptions{Stream: m.Stream, Grep: grep, Tail: min(max(m.Tail, 1), maxHistory)}
	switch {
	case m.BeforeSeq > 0:
		o.Before = &types.LogPosition{Time: m.Before, Plugin: m.BeforePlugin, Seq: m.BeforeSeq}
	case m.Before > 0:
		o.Until = time.Unix(0, m.Before)
	}
	var lines []types.LogLine
	err = c.s.o.Backend.Logs(c.ctx, m.Plugin, o, func(l types.LogLine) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		c.sendError(m.ID, err)
		return
	}
	b := appendLogsMsg(nil, "logs.history", m.ID, lines)
	select {
	case c.out <- b:
	case <-c.ctx.Done():
	}
}

// appendLogsMsg appends {"type":…,"id":…,"lines":[…]} with each line in
// the page's short form: p plugin ID, n name, q seq, t time (unix ns), s
// stream, l the text, v the level the line names (logs.LineLevel), k a
// count of skipped lines (a marker), b partial.
func appendLogsMsg(dst []byte, typ, id string, lines []types.LogLine) []byte {
	dst = append(dst, `{"type":`...)
	dst = logs.AppendJSONString(dst, typ)
	dst = append(dst, `,"id":`...)
	dst = logs.AppendJSONString(dst, id)
	dst = append(dst, `,"lines":[`...)
	for i, l := range lines {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"p":`...)
		dst = logs.AppendJSONString(dst, l.Plugin)
		dst = append(dst, `,"n":`...)
		dst = logs.AppendJSONString(dst, l.Name)
		if l.Seq != 0 {
			dst = strconv.AppendUint(append(dst, `,"q":`...), l.Seq, 10)
		}
		if l.Time != 0 {
			dst = strconv.AppendInt(append(dst, `,"t":`...), l.Time, 10)
		}
		if l.Stream != "" {
			dst = logs.AppendJSONString(append(dst, `,"s":`...), l.Stream)
		}
		if l.Skipped != 0 {
			dst = strconv.AppendUint(append(dst, `,"k":`...), l.Skipped, 10)
		}
		if l.Partial {
			dst = append(dst, `,"b":true`...)
		}
		text := l.Text()
		if text != "" {
			dst = logs.AppendJSONString(append(dst, `,"l":`...), text)
			if lvl, ok := logs.LineLevel(text); ok {
				dst = logs.AppendJSONString(append(dst, `,"v":`...), lvl.String())
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
