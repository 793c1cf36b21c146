package webui

import (
	"context"
	"fmt"

	"github.com/plugdbg/plugdbg/api/types"
)

// Tracer is the optional capability of a Backend to trace a plugin's
// calls (manager.Manager.Trace): started is called with the socket's path
// once the recording proxy is in place there (and again each time it
// follows the restarted plugin's new socket), and fn with each call, until
// ctx ends.
type Tracer interface {
	Trace(ctx context.Context, ref string, started func(socket string), fn func(types.TraceRecord) error) error
}

type traceMsg struct {
	Type   string             `json:"type"` // "trace": a call; "trace.started", "trace.ended"
	Plugin string             `json:"plugin"`
	Record *types.TraceRecord `json:"record,omitempty"`
	Lost   int                `json:"lost,omitempty"` // calls this page missed before this one
	Error  string             `json:"error,omitempty"`
}

// startTrace traces m.Plugin's calls for the page until trace.stop, the
// page going, or an error.
func (c *conn) startTrace(m inMsg) {
	tr, ok := c.s.o.Backend.(Tracer)
	if !ok {
		c.sendMust(traceMsg{Type: "trace.ended", Plugin: m.Plugin, Error: "this daemon cannot trace calls"})
		return
	}
	c.mu.Lock()
	if _, running := c.trace[m.Plugin]; running {
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.trace[m.Plugin] = cancel
	c.mu.Unlock()
	go func() {
		defer c.stopTrace(m.Plugin)
		lost := 0
		err := tr.Trace(ctx, m.Plugin, func(string) {
			c.sendMust(traceMsg{Type: "trace.started", Plugin: m.Plugin})
		}, func(r types.TraceRecord) error {
			// Records wait for no one: a page that lags loses some, and is
			// told how many.
			b, err := jsonBytes(traceMsg{Type: "trace", Plugin: m.Plugin, Record: &r, Lost: lost})
			if err != nil {
				return err
			}
			if c.trySend(b) {
				lost = 0
			} else {
				lost++
			}
			return nil
		})
		end := traceMsg{Type: "trace.ended", Plugin: m.Plugin}
		if err != nil {
			end.Error = fmt.Sprint(err)
		}
		c.sendMust(end)
	}()
}

func (c *conn) stopTrace(plugin string) { c.stopSub(c.trace, plugin) }

// stopSub takes key's cancel function out of subs, one of c's maps of
// running work, and calls it (outside c.mu) if there was one.
func (c *conn) stopSub(subs map[string]func(), key string) {
	c.mu.Lock()
	stop := subs[key]
	delete(subs, key)
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}
