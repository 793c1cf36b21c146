package logs

import (
	"sync"
	"sync/atomic"
)

// Batch is consecutive lines of one plugin, in order.
type Batch struct {
	Plugin  string // plugin ID
	Entries []Entry
}

// Hub fans plugin lines out to any number of followers. Publishing never
// blocks: a follower whose buffer is full misses batches and is marked
// lagging, so it can catch up from the history on disk; the plugin, the
// disk writer and the other followers are never slowed. Safe for
// concurrent use.
type Hub struct {
	mu   sync.RWMutex
	subs map[*Sub]struct{}
	last sync.Map // plugin ID → *atomic.Uint64: the last seq published
}

// Sub is one follower.
type Sub struct {
	plugin string // "" follows every plugin
	ch     chan Batch
	lagged atomic.Bool
}

// C delivers the batches, in order per plugin. It is closed by Unsubscribe.
func (s *Sub) C() <-chan Batch { return s.ch }

// Lagged reports whether batches were dropped since the last call, and
// clears the mark.
func (s *Sub) Lagged() bool { return s.lagged.Swap(false) }

// Subscribe starts following plugin ("" for all) with room for buffer
// batches.
func (h *Hub) Subscribe(plugin string, buffer int) *Sub {
	s, _ := h.SubscribeAt(plugin, buffer, nil)
	return s
}

// SubscribeAt is Subscribe that also returns, for each of ids, the seq of
// the last line published before the subscription (0: none): every later
// line of theirs reaches s, or marks it lagging, and none before does.
// Publish offers a batch and records its seq under the read lock, so the
// write lock taken here sees both or neither.
func (h *Hub) SubscribeAt(plugin string, buffer int, ids []string) (*Sub, map[string]uint64) {
	s := &Sub{plugin: plugin, ch: make(chan Batch, buffer)}
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

// Unsubscribe stops s and closes its channel.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
	h.mu.Unlock()
}

// Publish hands a batch to every follower of its plugin. The entries are
// shared, not copied: neither the publisher nor a follower may change them.
func (h *Hub) Publish(b Batch) {
	if len(b.Entries) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		if s.plugin != "" && s.plugin != b.Plugin {
			continue
		}
		select {
		case s.ch <- b:
		default:
			s.lagged.Store(true)
		}
	}
	// Only now, with the batch offered to every follower: a follower that
	// reads LastSeq and then drains its channel has every batch up to it
	// that it was not marked lagging for.
	v, ok := h.last.Load(b.Plugin)
	if !ok {
		v, _ = h.last.LoadOrStore(b.Plugin, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Store(b.Entries[len(b.Entries)-1].Seq)
}

// LastSeq returns the seq of the last line published for plugin, 0 if
// none. A lagging follower compares it with the last line it has, after
// catching up from the history, to learn of lines it can get from nowhere
// without waiting for the plugin's next line.
func (h *Hub) LastSeq(plugin string) uint64 {
	if v, ok := h.last.Load(plugin); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

// Forget drops what the hub remembers of plugin (LastSeq), once it is
// removed.
func (h *Hub) Forget(plugin string) { h.last.Delete(plugin) }

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
