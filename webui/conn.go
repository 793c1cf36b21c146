package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Timing and bounds of a page's websocket. Variables so that tests can
// shorten them.
var (
	// sendQueue is how many messages may wait for a page's socket. A page
	// that lets it fill loses log lines and events, never holds up the
	// daemon: its log subscription is resumed from the history once the
	// queue has drained (see logSub).
	sendQueue = 256
	// pingEvery and pongWait keep idle sockets alive and find dead ones.
	pingEvery = 20 * time.Second
	pongWait  = 60 * time.Second
	// writeWait bounds one write to the socket.
	writeWait = 10 * time.Second
	// blockWait is how long a sender that must not lose its message (a
	// history page, a probe answer, terminal output) waits for room.
	blockWait = 250 * time.Millisecond
)

// maxInMessage bounds one message from the page. The page sends requests,
// the largest a probe's request body or a paste into a terminal; a 1 MiB
// request to a plugin or paste is already far past what either is for.
// Past it gorilla closes the socket with 1009 (message too big).
const maxInMessage = 1 << 20

// inMsg is a message from the page. Which fields count depends on Type.
type inMsg struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`     // request, subscription or terminal ID
	Plugin string `json:"plugin,omitempty"` // name or ID; "" for every plugin
	// Log subscriptions and history pages.
	Stream string                 `json:"stream,omitempty"`
	Grep   string                 `json:"grep,omitempty"`
	Regex  bool                   `json:"regex,omitempty"`
	Tail   int                    `json:"tail,omitempty"`
	Resume map[string]resumePoint `json:"resume,omitempty"`
	// Before names the line a history page ends before: its time (unix
	// ns), plugin ID and seq (types.LogPosition).
	Before       int64  `json:"before,omitempty"`
	BeforePlugin string `json:"beforePlugin,omitempty"`
	BeforeSeq    uint64 `json:"beforeSeq,omitempty"`
	// Probes.
	Method string  `json:"method,omitempty"`
	Body   *string `json:"body,omitempty"` // nil: no body at all
	// Terminals.
	Data string   `json:"data,omitempty"`
	Cols uint16   `json:"cols,omitempty"`
	Rows uint16   `json:"rows,omitempty"`
	Cmd  []string `json:"cmd,omitempty"`
}

// conn is one page's websocket: a reader that dispatches the page's
// messages, and a writer fed by a bounded queue.
type conn struct {
	s   *Server
	ws  *websocket.Conn
	out chan []byte

	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	logs  *logSub           // the page's log subscription, if any
	terms map[string]*term  // open terminals by ID
	trace map[string]func() // running traces by plugin: their cancel
	// series are the page's chart subscriptions by ID: their cancel.
	series map[string]func()
}

func newConn(s *Server, ws *websocket.Conn) *conn {
	return &conn{s: s, ws: ws, out: make(chan []byte, s.tune.sendQueue), terms: map[string]*term{}, trace: map[string]func(){}, series: map[string]func(){}}
}

// run serves the connection until the page goes, the request's context
// ends or the server closes.
func (c *conn) run(reqCtx context.Context) {
	ctx, cancel := context.WithCancel(reqCtx)
	c.ctx, c.cancel = ctx, cancel
	stop := context.AfterFunc(c.s.ctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(c.writer)
	wg.Go(c.watch)
	c.reader()
	cancel()
	c.mu.Lock()
	for _, t := range c.terms {
		t.close()
	}
	c.mu.Unlock()
	wg.Wait()
	_ = c.ws.Close()
}

// writer sends queued messages and pings until the connection ends.
func (c *conn) writer() {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	defer c.cancel()
	for {
		select {
		case <-c.ctx.Done():
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
			return
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		}
	}
}

// reader dispatches the page's messages until the socket fails.
func (c *conn) reader() {
	c.ws.SetReadLimit(maxInMessage)
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		var m inMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.sendError("", fmt.Errorf("invalid message: %w", err))
			continue
		}
		c.dispatch(m)
	}
}

func (c *conn) dispatch(m inMsg) {
	switch m.Type {
	case "logs.subscribe":
		c.subscribeLogs(m)
	case "logs.unsubscribe":
		c.unsubscribeLogs()
	case "logs.history":
		go c.history(m)
	case "plugin.enable", "plugin.disable":
		go c.lifecycle(m)
	case "probe":
		go c.probe(m)
	case "trace.start":
		c.startTrace(m)
	case "trace.stop":
		c.stopTrace(m.Plugin)
	case "term.open":
		c.openTerm(m)
	case "term.in", "term.resize", "term.close":
		c.termInput(m)
	case "series.subscribe":
		c.subscribeSeries(m)
	case "series.unsubscribe":
		c.unsubscribeSeries(m.ID)
	default:
		c.sendError(m.ID, fmt.Errorf("unknown message type %q", m.Type))
	}
}

// trySend queues b unless the queue is full.
func (c *conn) trySend(b []byte) bool {
	select {
	case c.out <- b:
		return true
	case <-c.ctx.Done():
		return false
	default:
		return false
	}
}

// send queues b, waiting up to wait for room. It reports whether b was
// queued.
func (c *conn) send(b []byte, wait time.Duration) bool {
	if c.trySend(b) {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case c.out <- b:
		return true
	case <-c.ctx.Done():
	case <-t.C:
	}
	return false
}

// sendJSON queues v as JSON, waiting up to blockWait for room.
func (c *conn) sendJSON(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		c.s.o.Log.WithError(err).Warn("web UI: encode message")
		return false
	}
	return c.send(b, c.s.tune.blockWait)
}

// sendMust queues v as JSON, waiting for room as long as the connection
// lives: for messages whose loss would break the page (terminal output,
// answers to requests).
func (c *conn) sendMust(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	select {
	case c.out <- b:
		return true
	case <-c.ctx.Done():
		return false
	}
}

type errorMsg struct {
	Type  string `json:"type"` // "error"
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

func (c *conn) sendError(id string, err error) {
	c.sendMust(errorMsg{Type: "error", ID: id, Error: err.Error()})
}

// queued is how many messages wait for the socket.
func (c *conn) queued() int { return len(c.out) }

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
