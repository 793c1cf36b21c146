package manager

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// eventHub fans lifecycle events out to subscribers. A subscriber that does
// not keep up loses events rather than slowing the runtime.
type eventHub struct {
	mu     sync.Mutex
	subs   map[chan events.Message]struct{}
	recent []events.Message // the last recentEvents, oldest first
	// observer sees every event, synchronously (Options.Observer); nil:
	// none. Set once, before any event.
	observer Observer
}

// recentEvents is how many past events a subscriber can ask for with since.
const recentEvents = 1024

func (h *eventHub) publish(m events.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recent) == recentEvents {
		h.recent = append(h.recent[:0], h.recent[1:]...)
	}
	h.recent = append(h.recent, m)
	if h.observer != nil {
		h.observer.Event(m)
	}
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// Subscribe returns a channel of events from now on and a function that
// ends the subscription.
func (m *Manager) Subscribe() (<-chan events.Message, func()) {
	_, ch, cancel := m.SubscribeSince(time.Time{})
	return ch, cancel
}

// SubscribeSince is Subscribe that also returns the recent events at or
// after since (none when since is zero), with no event lost or repeated
// between the two.
func (m *Manager) SubscribeSince(since time.Time) ([]events.Message, <-chan events.Message, func()) {
	ch := make(chan events.Message, 256)
	h := &m.events
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan events.Message]struct{}{}
	}
	h.subs[ch] = struct{}{}
	var past []events.Message
	if !since.IsZero() {
		for _, ev := range h.recent {
			if ev.TimeNano >= since.UnixNano() {
				past = append(past, ev)
			}
		}
	}
	h.mu.Unlock()
	var once sync.Once
	return past, ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
			close(ch)
		})
	}
}

func (m *Manager) emit(id, name string, action events.Action, extra map[string]string) {
	now := time.Now()
	attrs := map[string]string{"name": name}
	for k, v := range extra {
		attrs[k] = v
	}
	m.events.publish(events.Message{
		Type:     events.PluginEventType,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	})
}
