package manager

import (
	"context"
	"errors"
	"iter"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/plugdbg/plugdbg/api/types"

	"encoding/base64"

	"github.com/plugdbg/plugdbg/logs"
)

// NewLogLine is the wire form of e.
func NewLogLine(id, name string, e logs.Entry) types.LogLine {
	l := types.LogLine{Plugin: id, Name: name, Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial}
	if utf8.ValidString(e.Line) {
		l.Line = e.Line
	} else {
		l.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
	}
	return l
}

// followBuffer is how many batches a follower may fall behind before it
// catches up from the history on disk.
const followBuffer = 32

// Logs sends the lines of plugin ref ("" for every plugin, merged in time
// order) to send: first from the history on disk, then, with Follow, live
// until ctx ends. Following joins the history without a gap or a repeated
// line; a follower that falls behind catches up from the history, and gets
// a Skipped marker, where they were, only for lines no longer there
// (rotated away meanwhile, or never stored on a full disk).
func (m *Manager) Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error {
	targets, err := m.logTargets(ref)
	if err != nil {
		return err
	}
	var sub *logs.Sub
	if o.Follow {
		sub = m.hub.Subscribe(targetFilter(ref, targets), followBuffer)
		defer m.hub.Unsubscribe(sub)
	}
	if o.Started != nil {
		o.Started()
	}
	filter := logs.Filter{Since: o.Since, Until: o.Until, Stream: o.Stream, Grep: o.Grep}
	last, err := m.history(targets, filter, o.Before, o.Tail, send)
	if err != nil || !o.Follow {
		return err
	}

	var untilC <-chan time.Time
	if !o.Until.IsZero() {
		t := time.NewTimer(time.Until(o.Until))
		defer t.Stop()
		untilC = t.C
	}
	check := time.NewTicker(200 * time.Millisecond)
	defer check.Stop()
	// deliver sends e unless the follower had it, after a Skipped marker
	// if lines are missing before it: lines the follower missed that are
	// not in the history either (rotated away, or not stored on a full
	// disk). Every line counts, matching or not, so that a filter never
	// makes a gap.
	deliver := func(t *logTarget, e logs.Entry) error {
		prev := last[t.id]
		if e.Seq <= prev {
			return nil
		}
		if prev > 0 && e.Seq > prev+1 {
			if err := send(types.LogLine{Plugin: t.id, Name: t.name, Skipped: e.Seq - prev - 1}); err != nil {
				return err
			}
		}
		last[t.id] = e.Seq
		if !filter.Match(e) {
			return nil
		}
		return send(NewLogLine(t.id, t.name, e))
	}
	deliverBatch := func(b logs.Batch) error {
		t := targetByID(targets, b.Plugin)
		if t == nil {
			// A plugin created after the follow began (--all).
			var err error
			if t, err = m.addTarget(&targets, b.Plugin, last); err != nil {
				return nil
			}
		}
		for _, e := range b.Entries {
			if err := deliver(t, e); err != nil {
				return err
			}
		}
		return nil
	}
	// resync follows up a lag: the batches still buffered, what the history
	// holds of the ones dropped, and a Skipped marker for lines neither has
	// (published to the hub, but never stored) — at once, not only when the
	// plugin writes again. held is a batch already taken from the channel.
	resync := func(held []logs.Batch) error {
		published := map[string]uint64{}
		for _, t := range targets {
			published[t.id] = m.hub.LastSeq(t.id) // before draining: see Hub.Publish
		}
	drain:
		for {
			select {
			case b, ok := <-sub.C():
				if !ok {
					break drain
				}
				held = append(held, b)
			default:
				break drain
			}
		}
		for _, t := range targets {
			if err := m.catchUp(t, last[t.id], deliver); err != nil {
				return err
			}
		}
		for _, b := range held {
			if err := deliverBatch(b); err != nil {
				return err
			}
		}
		for _, t := range targets {
			if p, have := published[t.id], last[t.id]; p > have {
				if err := send(types.LogLine{Plugin: t.id, Name: t.name, Skipped: p - have}); err != nil {
					return err
				}
				last[t.id] = p
			}
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-untilC:
			return nil
		case <-check.C:
			if sub.Lagged() {
				if err := resync(nil); err != nil {
					return err
				}
			}
		case b, ok := <-sub.C():
			if !ok {
				return nil
			}
			var err error
			if sub.Lagged() {
				err = resync([]logs.Batch{b})
			} else {
				err = deliverBatch(b)
			}
			if err != nil {
				return err
			}
		}
	}
}

type logTarget struct{ id, name, path string }

func (m *Manager) logTargets(ref string) ([]*logTarget, error) {
	if ref != "" {
		e, err := m.find(ref)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return []*logTarget{{id: e.p.ID, name: e.p.Name, path: m.logPath(e.p.ID)}}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*logTarget
	for id, e := range m.plugins {
		out = append(out, &logTarget{id: id, name: e.p.Name, path: m.logPath(id)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (m *Manager) addTarget(targets *[]*logTarget, id string, last map[string]uint64) (*logTarget, error) {
	ts, err := m.logTargets(id)
	if err != nil {
		return nil, err
	}
	*targets = append(*targets, ts[0])
	last[id] = 0
	return ts[0], nil
}

func targetFilter(ref string, targets []*logTarget) string {
	if ref == "" {
		return ""
	}
	return targets[0].id
}

func targetByID(targets []*logTarget, id string) *logTarget {
	for _, t := range targets {
		if t.id == id {
			return t
		}
	}
	return nil
}

// catchUp hands deliver, in order, the lines of one plugin after seq
// after that are in its history: what a lagging follower missed.
func (m *Manager) catchUp(t *logTarget, after uint64, deliver func(*logTarget, logs.Entry) error) error {
	_, err := logs.ReadHistory(t.path, logs.Filter{AfterSeq: after}, 0, func(e logs.Entry) error {
		return deliver(t, e)
	})
	return err
}

// history sends the stored lines of targets, merged by time, and returns
// the last sequence number read per plugin.
func (m *Manager) history(targets []*logTarget, f logs.Filter, before *types.LogPosition, tail int, send func(types.LogLine) error) (map[string]uint64, error) {
	last := map[string]uint64{}
	if len(targets) == 1 {
		t := targets[0]
		read, err := logs.ReadHistory(t.path, cutBefore(f, t.id, before), tail, func(e logs.Entry) error {
			return send(NewLogLine(t.id, t.name, e))
		})
		last[t.id] = read
		return last, err
	}
	// Several plugins: a merge of their histories, each read as a stream,
	// so memory stays one line per plugin whatever their size. With a
	// tail, each gives its last tail lines and a ring keeps the last tail
	// of the merge.
	emit := send
	ring := tailRing{max: tail}
	if tail > 0 {
		emit = ring.add
	}
	cursors := make([]*historyCursor, 0, len(targets))
	defer func() {
		for _, c := range cursors {
			c.stop()
		}
	}()
	for _, t := range targets {
		c := newHistoryCursor(t, cutBefore(f, t.id, before), tail)
		cursors = append(cursors, c)
		c.advance()
	}
	for {
		// A linear scan for the earliest head: plugins are few.
		var min *historyCursor
		for _, c := range cursors {
			if c.ok && (min == nil || c.before(min)) {
				min = c
			}
		}
		if min == nil {
			break
		}
		if err := emit(NewLogLine(min.t.id, min.t.name, min.head)); err != nil {
			return nil, err
		}
		min.advance()
	}
	for _, c := range cursors {
		if c.err != nil {
			return nil, c.err
		}
		last[c.t.id] = c.last
	}
	for _, l := range ring.lines() {
		if err := send(l); err != nil {
			return nil, err
		}
	}
	return last, nil
}

// cutBefore narrows f, for plugin id, to the lines before position b in
// the order Logs merges them: b's own plugin's lines before b's seq (a
// plugin's lines keep their seq order); another plugin's before b's time,
// and at b's time too if its ID sorts first.
func cutBefore(f logs.Filter, id string, b *types.LogPosition) logs.Filter {
	if b == nil {
		return f
	}
	if id == b.Plugin {
		f.BeforeSeq = b.Seq
		return f
	}
	until := time.Unix(0, b.Time)
	if id < b.Plugin {
		until = until.Add(1)
	}
	if f.Until.IsZero() || until.Before(f.Until) {
		f.Until = until
	}
	return f
}

// tailRing keeps the last max lines added.
type tailRing struct {
	max   int
	buf   []types.LogLine
	added int
}

func (r *tailRing) add(l types.LogLine) error {
	if len(r.buf) < r.max {
		r.buf = append(r.buf, l)
	} else {
		r.buf[r.added%r.max] = l
	}
	r.added++
	return nil
}

// lines returns the lines kept, oldest first.
func (r *tailRing) lines() []types.LogLine {
	if r.added <= r.max {
		return r.buf
	}
	i := r.added % r.max
	return append(r.buf[i:len(r.buf):len(r.buf)], r.buf[:i]...)
}

// historyCursor reads one plugin's history as a stream, for a merge.
type historyCursor struct {
	t    *logTarget
	next func() (logs.Entry, bool)
	stop func()
	head logs.Entry // valid while ok
	ok   bool
	last uint64 // ReadHistory's lastSeq, once the read has ended
	err  error
}

func newHistoryCursor(t *logTarget, f logs.Filter, tail int) *historyCursor {
	c := &historyCursor{t: t}
	c.next, c.stop = iter.Pull(func(yield func(logs.Entry) bool) {
		c.last, c.err = logs.ReadHistory(t.path, f, tail, func(e logs.Entry) error {
			if !yield(e) {
				return errStopped
			}
			return nil
		})
	})
	return c
}

var errStopped = errors.New("stopped")

func (c *historyCursor) advance() { c.head, c.ok = c.next() }

// before orders heads by time, then plugin, then seq, for a stable merge.
func (c *historyCursor) before(o *historyCursor) bool {
	if c.head.Time != o.head.Time {
		return c.head.Time < o.head.Time
	}
	if c.t.id != o.t.id {
		return c.t.id < o.t.id
	}
	return c.head.Seq < o.head.Seq
}
