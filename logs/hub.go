package logs

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Batch is consecutive lines of one plugin, in order.
type Batch struct {
	Plugin  string // plugin ID
	Entries []Entry
}

// Hub fans plugin lines out to any number of followers. Publishing never
// blocks: a follower whose queue is full misses batches and is marked
// lagging, so it can catch up from the history on disk; the plugin, the
// disk writer and the other followers are never slowed. Safe for
// concurrent use.
type Hub struct {
	mu   sync.RWMutex
	subs map[*Sub]struct{}
	// plugins holds, by plugin ID, what the hub counts of each plugin's
	// lines (*pluginLines): found with one lookup per batch, and updated
	// with atomics, so that publishing takes no lock of its own.
	plugins sync.Map
}

// pluginLines is what the hub keeps of one plugin's published lines.
type pluginLines struct {
	last    atomic.Uint64 // the seq of the last line published
	streams [2]struct {   // Stdout, Stderr
		lines, bytes atomic.Uint64
	}
}

// LineCounts are the lines and bytes of one plugin's output a Hub has
// seen, by stream, since the hub was made (the daemon started) or the
// plugin was first published. A line longer than a piece (MaxPiece) is
// one line, its bytes those of all its pieces; newlines are not counted.
type LineCounts struct {
	StdoutLines, StdoutBytes uint64
	StderrLines, StderrBytes uint64
}

// Sub is one follower. Its queue is bounded by the bytes of the lines in
// it, not by a count of batches: a batch may hold one line or thousands,
// depending on how fast the plugin writes, and a follower must be allowed
// to fall as far behind when a plugin writes line by line as when it
// floods (on a full disk there is no history to catch up from).
type Sub struct {
	plugin string // "" follows every plugin
	budget int    // bytes the queue may hold
	ready  chan struct{}
	lagged atomic.Bool

	mu     sync.Mutex
	queue  []Batch
	queued int // bytes
	closed bool
}

// entryOverhead is what an Entry costs in memory besides its line's bytes.
const entryOverhead = int(unsafe.Sizeof(Entry{}))

// Ready receives when batches are queued, and is closed by Unsubscribe.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Take appends the queued batches to dst, in order per plugin, and empties
// the queue. open is false once the follower is unsubscribed and nothing
// is left.
func (s *Sub) Take(dst []Batch) (batches []Batch, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = append(dst, s.queue...)
	if cap(s.queue) > 1024 {
		s.queue = nil // let a burst's backlog go
	} else {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	s.queued = 0
	return dst, !s.closed || len(dst) > 0
}

// offer queues b unless that would pass the budget, which marks s lagging.
func (s *Sub) offer(b Batch, size int) {
	s.mu.Lock()
	if s.closed || s.queued+size > s.budget {
		s.mu.Unlock()
		s.lagged.Store(true)
		return
	}
	s.queue = append(s.queue, b)
	s.queued += size
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Lagged reports whether batches were dropped since the last call, and
// clears the mark.
func (s *Sub) Lagged() bool { return s.lagged.Swap(false) }

// Subscribe starts following plugin ("" for all), queueing up to budget
// bytes of lines for the follower to take.
func (h *Hub) Subscribe(plugin string, budget int) *Sub {
	s, _ := h.SubscribeAt(plugin, budget, nil)
	return s
}

// SubscribeAt is Subscribe that also returns, for each of ids, the seq of
// the last line published before the subscription (0: none): every later
// line of theirs reaches s, or marks it lagging, and none before does.
// Publish offers a batch and records its seq under the read lock, so the
// write lock taken here sees both or neither.
func (h *Hub) SubscribeAt(plugin string, budget int, ids []string) (*Sub, map[string]uint64) {
	s := &Sub{plugin: plugin, budget: budget, ready: make(chan struct{}, 1)}
	at := make(map[string]uint64, len(ids))
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*Sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	for _, id := range ids {
		at[id] = h.LastSeq(id)
	}
	h.mu.Unlock()
	return s, at
}

// Unsubscribe stops s and closes its Ready channel; what it queued can
// still be taken.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.ready)
	}
	h.mu.Unlock()
}

// Publish hands a batch to every follower of its plugin. The entries are
// shared, not copied: neither the publisher nor a follower may change them.
func (h *Hub) Publish(b Batch) {
	if len(b.Entries) == 0 {
		return
	}
	// Counted per batch, not per line: the hot path runs at hundreds of
	// thousands of lines a second.
	var lines, bytes [2]uint64
	for i := range b.Entries {
		e := &b.Entries[i]
		s := 0
		if e.Stream == Stderr {
			s = 1
		}
		bytes[s] += uint64(len(e.Line))
		if !e.Partial {
			lines[s]++
		}
	}
	size := int(bytes[0]+bytes[1]) + len(b.Entries)*entryOverhead
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		if s.plugin != "" && s.plugin != b.Plugin {
			continue
		}
		s.offer(b, size)
	}
	// Only now, with the batch offered to every follower: a follower that
	// reads LastSeq and then takes its queue has every batch up to it
	// that it was not marked lagging for.
	p := h.lines(b.Plugin)
	p.last.Store(b.Entries[len(b.Entries)-1].Seq)
	for s := range p.streams {
		if lines[s] > 0 {
			p.streams[s].lines.Add(lines[s])
		}
		if bytes[s] > 0 {
			p.streams[s].bytes.Add(bytes[s])
		}
	}
}

// lines returns what the hub keeps of plugin, made on first use.
func (h *Hub) lines(plugin string) *pluginLines {
	v, ok := h.plugins.Load(plugin)
	if !ok {
		v, _ = h.plugins.LoadOrStore(plugin, new(pluginLines))
	}
	return v.(*pluginLines)
}

// Counts returns the line counts of every plugin published since the hub
// was made (or since it was last forgotten), by plugin ID.
func (h *Hub) Counts() map[string]LineCounts {
	out := map[string]LineCounts{}
	h.plugins.Range(func(k, v any) bool {
		p := v.(*pluginLines)
		out[k.(string)] = LineCounts{
			StdoutLines: p.streams[0].lines.Load(), StdoutBytes: p.streams[0].bytes.Load(),
			StderrLines: p.streams[1].lines.Load(), StderrBytes: p.streams[1].bytes.Load(),
		}
		return true
	})
	return out
}

// Followers returns how many followers each plugin has, by plugin ID,
// and how many follow every plugin (those are not in byPlugin).
func (h *Hub) Followers() (byPlugin map[string]int, all int) {
	byPlugin = map[string]int{}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		if s.plugin == "" {
			all++
		} else {
			byPlugin[s.plugin]++
		}
	}
	return byPlugin, all
}

// LastSeq returns the seq of the last line published for plugin, 0 if
// none. A lagging follower compares it with the last line it has, after
// catching up from the history, to learn of lines it can get from nowhere
// without waiting for the plugin's next line.
func (h *Hub) LastSeq(plugin string) uint64 {
	if v, ok := h.plugins.Load(plugin); ok {
		return v.(*pluginLines).last.Load()
	}
	return 0
}

// Forget drops what the hub remembers of plugin (LastSeq, Counts), once
// it is removed.
func (h *Hub) Forget(plugin string) { h.plugins.Delete(plugin) }

// MarkLagged marks every follower of plugin as lagging, so that it catches
// up from the history on disk: used when lines were dropped before they
// reached the hub at all.
func (h *Hub) MarkLagged(plugin string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		if s.plugin == "" || s.plugin == plugin {
			s.lagged.Store(true)
		}
	}
}
