// Package follow reads plugin logs for the API: the history of one plugin
// or of all of them merged in time order, then, when following, the live
// lines the runtime publishes to a logs.Hub, joined to the history without
// a gap or a repeated line. It knows of the runtime only the Plugins
// interface: which plugins there are and where their log files are.
package follow

import (
	"context"
	"encoding/base64"
	"errors"
	"iter"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// Target is one plugin whose lines a Follower reads.
type Target struct {
	ID   string
	Name string
	Path string // its log file (logs.ReadHistory reads the rotated ones too)
}

// Plugins is what a Follower needs of the runtime. Its methods must be safe
// for concurrent use.
type Plugins interface {
	// LogTarget resolves ref (an ID, a name or an ID prefix) to one
	// plugin. Its error is the runtime's, so that the API reports a plugin
	// that is not there as it reports it elsewhere.
	LogTarget(ref string) (Target, error)
	// LogTargets lists every plugin, in any order.
	LogTargets() []Target
}

// Follower reads plugin logs: the files of the plugins Plugins lists, and
// the live lines the runtime publishes to Hub. Safe for concurrent use;
// it holds no state of its own beyond the two.
type Follower struct {
	plugins Plugins
	hub     *logs.Hub
}

// New returns a Follower of the plugins p lists, whose live lines are
// published to hub.
func New(p Plugins, hub *logs.Hub) *Follower { return &Follower{plugins: p, hub: hub} }

// followBudget is how far, in bytes of lines, a follower may fall behind
// before it catches up from the history on disk: lines that are not there
// (never stored on a full disk) it then misses, and the catch-up decodes
// every line once more. 32 MiB is 200k lines of 100 bytes (an entry costs
// 56 bytes more), a quarter of a second of an 800k lines/s flood: on a
// busy machine a reader is often left that long without a CPU. The lines
// are those the hub shares among followers, not copies.
const followBudget = 32 << 20

// Logs sends the lines of plugin ref ("" for every plugin, merged in time
// order) to send: first from the history on disk, then, with Follow, live
// until ctx ends. Following joins the history without a gap or a repeated
// line; a follower that falls behind catches up from the history, and gets
// a Skipped marker, where they were, only for lines no longer there
// (rotated away meanwhile, or never stored on a full disk). send is called
// from the calling goroutine only.
func (f *Follower) Logs(ctx context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error {
	targets, err := f.targets(ref)
	if err != nil {
		return err
	}
	var sub *logs.Sub
	var subscribedAt map[string]uint64
	if o.Follow {
		ids := make([]string, len(targets))
		for i, t := range targets {
			ids[i] = t.ID
		}
		sub, subscribedAt = f.hub.SubscribeAt(subscription(ref, targets), followBudget, ids)
		defer f.hub.Unsubscribe(sub)
	}
	if o.Started != nil {
		o.Started()
	}
	filter := logs.Filter{Since: o.Since, Until: o.Until, Stream: o.Stream, Grep: o.Grep, InPlace: o.SendCopies}
	last, err := history(targets, filter, o.Before, o.Tail, send)
	if err != nil || !o.Follow {
		return err
	}
	if o.Tail < 0 {
		// No history is sent, so the follow starts where the subscription
		// did, not at the history's end: read after Started, that end may
		// hold lines written since, which would then reach the follower
		// neither from the history nor live.
		for id, seq := range subscribedAt {
			last[id] = seq
		}
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
	deliver := func(t *Target, e logs.Entry) error {
		prev := last[t.ID]
		if e.Seq <= prev {
			return nil
		}
		if prev > 0 && e.Seq > prev+1 {
			if err := send(types.LogLine{Plugin: t.ID, Name: t.Name, Skipped: e.Seq - prev - 1}); err != nil {
				return err
			}
		}
		last[t.ID] = e.Seq
		if !filter.Match(e) {
			return nil
		}
		return send(wireLine(t, e))
	}
	deliverBatch := func(b logs.Batch) error {
		t := targetByID(targets, b.Plugin)
		if t == nil {
			// A plugin created after the follow began (--all).
			nt, err := f.plugins.LogTarget(b.Plugin)
			if err != nil {
				return nil
			}
			t = &nt
			targets = append(targets, t)
			last[t.ID] = 0
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
	// plugin writes again. held is what was already taken from the queue.
	resync := func(held []logs.Batch) error {
		published := map[string]uint64{}
		for _, t := range targets {
			published[t.ID] = f.hub.LastSeq(t.ID) // before draining: see Hub.Publish
		}
		held, _ = sub.Take(held)
		for _, t := range targets {
			if err := catchUp(t, last[t.ID], o.SendCopies, deliver); err != nil {
				return err
			}
		}
		for _, b := range held {
			if err := deliverBatch(b); err != nil {
				return err
			}
		}
		for _, t := range targets {
			if p, have := published[t.ID], last[t.ID]; p > have {
				if err := send(types.LogLine{Plugin: t.ID, Name: t.Name, Skipped: p - have}); err != nil {
					return err
				}
				last[t.ID] = p
			}
		}
		return nil
	}
	var taken []logs.Batch
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
		case <-sub.Ready():
			batches, open := sub.Take(taken[:0])
			if sub.Lagged() {
				if err := resync(batches); err != nil {
					return err
				}
			} else {
				for _, b := range batches {
					if err := deliverBatch(b); err != nil {
						return err
					}
				}
			}
			if !open {
				return nil
			}
			clear(batches) // the lines are not kept until the next take
			taken = batches
		}
	}
}

// targets resolves ref to the plugins it reads: one, or all ("") sorted by
// name.
func (f *Follower) targets(ref string) ([]*Target, error) {
	if ref != "" {
		t, err := f.plugins.LogTarget(ref)
		if err != nil {
			return nil, err
		}
		return []*Target{&t}, nil
	}
	all := f.plugins.LogTargets()
	out := make([]*Target, len(all))
	for i := range all {
		out[i] = &all[i]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// subscription is the plugin a follower of ref subscribes to: "" (every
// plugin, those created later included) for ref "".
func subscription(ref string, targets []*Target) string {
	if ref == "" {
		return ""
	}
	return targets[0].ID
}

func targetByID(targets []*Target, id string) *Target {
	for _, t := range targets {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// wireLine is the API's form of e, a line of t.
func wireLine(t *Target, e logs.Entry) types.LogLine {
	l := types.LogLine{Plugin: t.ID, Name: t.Name, Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial, Record: e.APIRecord()}
	if utf8.ValidString(e.Line) {
		l.Line = e.Line
	} else {
		l.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
	}
	return l
}

// catchUp hands deliver, in order, the lines of one plugin after seq
// after that are in its history: what a lagging follower missed. inPlace
// says that deliver keeps no entry past its call (logs.Filter.InPlace).
func catchUp(t *Target, after uint64, inPlace bool, deliver func(*Target, logs.Entry) error) error {
	_, err := logs.ReadHistory(t.Path, logs.Filter{AfterSeq: after, InPlace: inPlace}, 0, func(e logs.Entry) error {
		return deliver(t, e)
	})
	return err
}

// history sends the stored lines of targets, merged by time, and returns
// the last sequence number read per plugin.
func history(targets []*Target, f logs.Filter, before *types.LogPosition, tail int, send func(types.LogLine) error) (map[string]uint64, error) {
	last := map[string]uint64{}
	if len(targets) == 1 {
		t := targets[0]
		read, err := logs.ReadHistory(t.Path, cutBefore(f, t.ID, before), tail, func(e logs.Entry) error {
			return send(wireLine(t, e))
		})
		last[t.ID] = read
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
	f.InPlace = false // a cursor holds its head while the others advance
	for _, t := range targets {
		c := newHistoryCursor(t, cutBefore(f, t.ID, before), tail)
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
		if err := emit(wireLine(min.t, min.head)); err != nil {
			return nil, err
		}
		min.advance()
	}
	for _, c := range cursors {
		if c.err != nil {
			return nil, c.err
		}
		last[c.t.ID] = c.last
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
	t    *Target
	next func() (logs.Entry, bool)
	stop func()
	head logs.Entry // valid while ok
	ok   bool
	last uint64 // ReadHistory's lastSeq, once the read has ended
	err  error
}

func newHistoryCursor(t *Target, f logs.Filter, tail int) *historyCursor {
	c := &historyCursor{t: t}
	c.next, c.stop = iter.Pull(func(yield func(logs.Entry) bool) {
		c.last, c.err = logs.ReadHistory(t.Path, f, tail, func(e logs.Entry) error {
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
	if c.t.ID != o.t.ID {
		return c.t.ID < o.t.ID
	}
	return c.head.Seq < o.head.Seq
}
