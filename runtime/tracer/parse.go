package tracer

import (
	"bytes"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
)

// Bounds of the parser. Bytes are forwarded whole whatever they are; the
// bounds only say what the parser keeps to look at.
const (
	// maxLine bounds a start line, header line or chunk-size line kept
	// for parsing. A longer header line is skipped (unless it frames the
	// body); a longer start line stops the parsing of its connection.
	maxLine = 8 << 10
	// maxPending bounds the requests of one connection waiting for their
	// answers (pipelined); past it the connection stops being parsed.
	maxPending = 1024
)

// Statuses a Counter is given that are no HTTP code.
const (
	StatusNone = 0  // the call got no (whole) answer: types.CallNoAnswer
	StatusErr  = -1 // a 200 whose answer has a non-empty Err: types.CallErr
)

// Counter counts the calls a Conn parses; observe.Stats is one. Its
// methods are called from the goroutines of the connections, concurrently,
// and must not block.
type Counter interface {
	// Method returns what the calls of the method a request target names
	// are counted under; it is given back to Count with each of them.
	Method(target []byte) any
	// Count counts one call of method: status is its answer's HTTP code,
	// StatusErr or StatusNone, d the time from the request's first byte to
	// its answer's last.
	Count(method any, status int, d time.Duration)
	// Unparsed counts a connection whose traffic stopped being parsed.
	Unparsed()
}

// Tap turns the recording of calls on and off for the connections that
// share it, call by call: a call is recorded if the tap is on when its
// request line passes. The zero Tap is off, and off it costs a call one
// atomic load. Safe for concurrent use.
type Tap struct {
	emit atomic.Pointer[func(types.TraceRecord)]
}

// Set turns the tap on with emit, or off with nil. emit gets each
// recorded call once, once its answer has passed or its connection ended
// without one, from the connection's goroutines (concurrently across
// connections): it must not block. A call whose request passed while the
// tap was on goes to the emit of then.
func (t *Tap) Set(emit func(types.TraceRecord)) {
	if emit == nil {
		t.emit.Store(nil)
		return
	}
	t.emit.Store(&emit)
}

func (t *Tap) emitter() func(types.TraceRecord) {
	if f := t.emit.Load(); f != nil {
		return *f
	}
	return nil
}

// Parser states.
const (
	stLine       = iota // start line (request or status line)
	stHeader            // header lines, up to the empty one
	stBody              // length bytes of body
	stChunkSize         // a chunk-size line
	stChunkData         // length bytes of a chunk's data
	stChunkEnd          // the CRLF after a chunk's data
	stTrailer           // trailer lines, up to the empty one
	stUntilClose        // an answer's body that ends with the connection
	stStopped           // not parsing any more: lost, or upgraded
)

// pending is a request whose answer has not ended yet.
type pending struct {
	method any   // the Counter's
	start  int64 // when its first byte passed
	head   bool  // a HEAD request: its answer has no body
	rec    *record
}

// record is a call being recorded. Its request side (req, in) is written
// by the request's parser and read by the answer's, under Conn.mu: an
// answer may come before its request has ended. The rest belongs to the
// answer's parser.
type record struct {
	emit   func(types.TraceRecord)
	method string
	in     int64 // when the request had fully passed; -1 until then
	req    body
	resp   body
}

// Conn is the parse state of one proxied connection: a parser per
// direction, fed in step with the bytes as they pass, and the requests
// waiting for their answers, in order (HTTP/1.1 answers in the order of
// the requests, pipelined or not). Each call is counted, if the Conn has a
// Counter, and recorded while its Tap is on. Get one with NewConn; Proxy
// frees it.
type Conn struct {
	origin  time.Time // the clock's origin
	num     int       // the connection's number in records
	counter Counter
	tap     *Tap
	req     parser
	resp    parser

	mu    sync.Mutex
	queue []pending // queue[head:] are waiting
	head  int
	why   string // why the parsing was lost

	stopped atomic.Bool // parsing stopped: lost (counted as unparsed) or upgraded
	lost    atomic.Bool
}

// parser parses one direction of a connection, fed as bytes pass.
type parser struct {
	c    *Conn
	resp bool

	state int
	line  []byte // the current line so far, when it spans reads
	over  bool   // the current line is longer than maxLine: the rest is skipped
	inMsg bool   // a message's first byte has arrived
	start int64  // when it did

	// The current message.
	length   int64 // body or chunk bytes left
	hasLen   bool
	chunked  bool
	otherTE  bool // a transfer coding other than chunked
	status   int
	capture  bool    // keep the body (a 200 answer), to look for Err
	body     []byte  // the kept body, when the call is not recorded
	bodyOver bool    // the body was longer than maxBody
	rec      *record // the recorded call the message belongs to, if it is
}

var connPool = sync.Pool{New: func() any {
	c := &Conn{}
	c.req = parser{c: c}
	c.resp = parser{c: c, resp: true}
	return c
}}

// NewConn returns the parse state of a new connection, numbered num in
// its records, its times read on origin's monotonic clock. counter and tap
// may be nil: nothing is counted, or recorded.
func NewConn(origin time.Time, num int, counter Counter, tap *Tap) *Conn {
	c := connPool.Get().(*Conn)
	c.origin, c.num, c.counter, c.tap = origin, num, counter, tap
	return c
}

// free puts c back in the pool; it must not be used after.
func (c *Conn) free() {
	c.counter, c.tap = nil, nil
	c.queue, c.head, c.why = c.queue[:0], 0, ""
	c.stopped.Store(false)
	c.lost.Store(false)
	c.req.reset()
	c.resp.reset()
	connPool.Put(c)
}

// now is the time on c's clock, in nanoseconds.
func (c *Conn) now() int64 { return int64(time.Since(c.origin)) }

// Feed parses b, bytes that passed from the client (request) or to it
// (answer). Proxy feeds the bytes it forwards; each direction must be fed
// from one goroutine at a time.
func (c *Conn) Feed(request bool, b []byte) {
	if request {
		c.req.feed(b, c.now())
	} else {
		c.resp.feed(b, c.now())
	}
}

func (p *parser) reset() {
	line, body := p.line[:0], p.body[:0]
	*p = parser{c: p.c, resp: p.resp, line: line, body: body}
}

// lose stops the parsing of the connection and counts it as unparsed;
// the recorded calls still waiting are recorded as such when the
// connection ends (finish), when no parser touches them any more.
func (c *Conn) lose(why string) {
	c.stop()
	if c.lost.CompareAndSwap(false, true) {
		c.mu.Lock()
		c.why = why
		c.mu.Unlock()
		if c.counter != nil {
			c.counter.Unparsed()
		}
	}
}

// stop stops the parsing of both directions: what follows is forwarded
// without being looked at. Each parser sees it before its next step.
func (c *Conn) stop() { c.stopped.Store(true) }

func (c *Conn) push(pc pending) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue)-c.head >= maxPending {
		return false
	}
	if c.head > 0 && c.head == len(c.queue) {
		c.queue, c.head = c.queue[:0], 0
	}
	c.queue = append(c.queue, pc)
	return true
}

func (c *Conn) front() (pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.queue) {
		return pending{}, false
	}
	return c.queue[c.head], true
}

func (c *Conn) pop() (pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.queue) {
		return pending{}, false
	}
	pc := c.queue[c.head]
	c.queue[c.head] = pending{} // the record goes with its call
	c.head++
	return pc, true
}

// answersEnded is called when the plugin's side of the connection has
// ended: an answer whose body ends with the connection ends here, and the
// requests left without an answer will get none.
func (c *Conn) answersEnded(now int64) {
	if c.stopped.Load() {
		return // what is queued cannot be told apart from what was answered
	}
	if c.resp.state == stUntilClose {
		c.resp.endMessage(now)
	}
	// The first call waiting may have had part of its answer, as net/http
	// would tell.
	why, status := "no answer: EOF", 0
	switch c.resp.state {
	case stLine, stHeader:
		if c.resp.inMsg {
			why = "no answer: unexpected EOF"
		}
	case stBody, stChunkSize, stChunkData, stChunkEnd, stTrailer:
		why, status = "answer cut short: unexpected EOF", c.resp.status
	}
	c.unanswered(now, why, status)
}

// finish is called once neither direction is fed any more: requests that
// came after the plugin's side ended are left without an answer too, and
// the calls of a connection whose parsing was lost are recorded as such.
func (c *Conn) finish(now int64) {
	if !c.stopped.Load() {
		c.unanswered(now, "no answer: EOF", 0)
		return
	}
	if !c.lost.Load() {
		return // upgraded: what was queued is not HTTP any more
	}
	c.mu.Lock()
	why := "not parsed: " + c.why + "; the connection's later calls are not recorded"
	c.mu.Unlock()
	for {
		pc, ok := c.pop()
		if !ok {
			return
		}
		if pc.rec != nil {
			c.emit(pc, 0, now, why)
		}
	}
}

// unanswered counts the queued requests as calls without an answer; the
// first is recorded with why and status, the others as no answer.
func (c *Conn) unanswered(now int64, why string, status int) {
	for {
		pc, ok := c.pop()
		if !ok {
			return
		}
		if c.counter != nil {
			c.counter.Count(pc.method, StatusNone, time.Duration(now-pc.start))
		}
		if pc.rec != nil {
			c.emit(pc, status, now, why)
		}
		why, status = "no answer: EOF", 0
	}
}

// emit sends the record of call pc, whose answer ended at now with status
// (0: none), failure saying why it is not whole, if it is not.
func (c *Conn) emit(pc pending, status int, now int64, failure string) {
	r := pc.rec
	c.mu.Lock()
	in, req := r.in, r.req.String()
	c.mu.Unlock()
	if in < 0 {
		in = pc.start // the request never ended, or its answer came first
	}
	tr := types.TraceRecord{
		Time:     c.origin.Add(time.Duration(in)),
		Conn:     c.num,
		Method:   r.method,
		Request:  req,
		Status:   status,
		Response: r.resp.String(),
		Latency:  time.Duration(max(now-in, 0)),
		Err:      r.resp.errField(),
	}
	if tr.Err == "" {
		tr.Err = failure
	}
	r.emit(tr)
}

// feed parses b, bytes that pass in p's direction at time now. It does not
// allocate, but for a line that spans reads (kept up to maxLine), a 200
// answer's body (up to maxBody), a new method's name, and what a recorded
// call keeps.
func (p *parser) feed(b []byte, now int64) {
	for len(b) > 0 {
		if p.c.stopped.Load() {
			p.state = stStopped
		}
		switch p.state {
		case stStopped:
			return
		case stBody, stChunkData:
			n := int(min(int64(len(b)), p.length))
			p.keep(b[:n])
			b = b[n:]
			p.length -= int64(n)
			if p.length == 0 {
				if p.state == stBody {
					p.endMessage(now)
				} else {
					p.state = stChunkEnd
				}
			}
		case stUntilClose:
			p.keep(b)
			return
		default:
			if !p.inMsg && p.state == stLine {
				p.inMsg, p.start = true, now
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				p.addLine(b)
				return
			}
			var line []byte
			if len(p.line) == 0 && !p.over {
				line = b[:i] // whole in this read: no copy
			} else {
				p.addLine(b[:i])
				line = p.line
			}
			b = b[i+1:]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			over := p.over
			p.line, p.over = p.line[:0], false
			p.onLine(line, over, now)
		}
	}
}

// addLine keeps b as part of the current line, up to maxLine.
func (p *parser) addLine(b []byte) {
	if p.line == nil {
		p.line = make([]byte, 0, 512)
	}
	room := maxLine - len(p.line)
	if len(b) > room {
		b, p.over = b[:room], true
	}
	p.line = append(p.line, b...)
}

// keep keeps body bytes: all of a recorded call's (up to maxBody), else
// those of an answer that may carry an Err.
func (p *parser) keep(b []byte) {
	switch {
	case p.rec != nil && p.resp:
		p.rec.resp.add(b)
	case p.rec != nil:
		p.c.mu.Lock()
		p.rec.req.add(b)
		p.c.mu.Unlock()
	case !p.capture || p.bodyOver:
	case len(p.body)+len(b) > maxBody:
		p.bodyOver = true
	default:
		p.body = append(p.body, b...)
	}
}

func (p *parser) onLine(line []byte, over bool, now int64) {
	switch p.state {
	case stLine:
		if len(line) == 0 && !over {
			p.inMsg = false // an empty line before a message is allowed
			return
		}
		if over {
			p.c.lose("a start line over 8 KiB")
			return
		}
		if p.resp {
			p.statusLine(line)
		} else {
			p.requestLine(line)
		}
	case stHeader:
		if len(line) == 0 && !over {
			p.headersDone(now)
			return
		}
		p.header(line, over)
	case stChunkSize:
		if over {
			p.c.lose("a chunk-size line over 8 KiB")
			return
		}
		size, ok := chunkSize(line)
		switch {
		case !ok:
			p.c.lose("a malformed chunk size")
		case size == 0:
			p.state = stTrailer
		default:
			p.length, p.state = size, stChunkData
		}
	case stChunkEnd:
		if len(line) != 0 || over {
			p.c.lose("a chunk not followed by CRLF")
			return
		}
		p.state = stChunkSize
	case stTrailer:
		if len(line) == 0 && !over {
			p.endMessage(now)
		}
	}
}

// requestLine parses "METHOD SP target SP HTTP/1.x" and queues the call.
func (p *parser) requestLine(line []byte) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		p.c.lose("a malformed request line")
		return
	}
	method, rest := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || !bytes.HasPrefix(rest[sp+1:], []byte("HTTP/1.")) {
		p.c.lose("a malformed request line")
		return
	}
	target := rest[:sp]
	pc := pending{start: p.start, head: string(method) == "HEAD"}
	if p.c.counter != nil {
		pc.method = p.c.counter.Method(target)
	}
	if p.c.tap != nil {
		if emit := p.c.tap.emitter(); emit != nil {
			pc.rec = &record{emit: emit, method: methodOf(target), in: -1}
		}
	}
	if !p.c.push(pc) {
		p.c.lose("over 1024 requests waiting for their answers")
		return
	}
	p.rec = pc.rec
	p.state = stHeader
}

// methodOf is a recorded call's Method: the path of the request target
// without its leading slash, as net/http reads it.
func methodOf(target []byte) string {
	if u, err := url.ParseRequestURI(string(target)); err == nil {
		return strings.TrimPrefix(u.Path, "/")
	}
	return strings.TrimPrefix(string(target), "/")
}

// statusLine parses "HTTP/1.x SP code [SP reason]".
func (p *parser) statusLine(line []byte) {
	const prefix = "HTTP/1.x "
	if len(line) < len(prefix)+3 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[len(prefix)-1] != ' ' {
		p.c.lose("a malformed status line")
		return
	}
	code := 0
	for _, c := range line[len(prefix) : len(prefix)+3] {
		if c < '0' || c > '9' {
			p.c.lose("a malformed status line")
			return
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > len(prefix)+3 && line[len(prefix)+3] != ' ' || code < 100 {
		p.c.lose("a malformed status line")
		return
	}
	p.status = code
	p.state = stHeader
}

// header looks at one header line for what frames the body.
func (p *parser) header(line []byte, over bool) {
	if line[0] == ' ' || line[0] == '\t' {
		return // an obsolete folded continuation: of no header we read
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		if over {
			return // a long line of some other header, cut before its colon
		}
		p.c.lose("a malformed header line")
		return
	}
	name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, ok := decimal(value)
		if over || !ok || p.hasLen && n != p.length {
			p.c.lose("a malformed Content-Length")
			return
		}
		p.length, p.hasLen = n, true
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		if over {
			p.c.lose("a Transfer-Encoding over 8 KiB")
			return
		}
		// The last coding frames the body; chunked must be last if there.
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = bytes.Trim(value[i+1:], " \t")
		}
		if bytes.EqualFold(last, []byte("chunked")) {
			p.chunked, p.otherTE = true, false
		} else {
			p.chunked, p.otherTE = false, true
		}
	}
}

// headersDone frames the body of the message whose headers ended.
func (p *parser) headersDone(now int64) {
	if !p.resp {
		switch {
		case p.otherTE:
			p.c.lose("a request body no server can frame") // RFC 9112 6.3
		case p.chunked:
			p.state = stChunkSize
		case p.hasLen && p.length > 0:
			p.state = stBody
		default:
			p.endMessage(now)
		}
		return
	}
	front, ok := p.c.front()
	if !ok {
		p.c.lose("an answer to no request")
		return
	}
	p.rec = front.rec
	switch {
	case p.status == 101:
		// Switching protocols: the rest is not HTTP.
		p.endMessage(now)
		p.c.stop()
		return
	case p.status < 200:
		// An interim answer (100 Continue): the final one follows.
		p.resetMessage()
		return
	}
	p.capture = p.status == 200
	switch {
	case front.head || p.status == 204 || p.status == 304:
		p.endMessage(now)
	case p.chunked:
		p.state = stChunkSize
	case p.otherTE || !p.hasLen:
		p.state = stUntilClose
	case p.length > 0:
		p.state = stBody
	default:
		p.endMessage(now)
	}
}

// endMessage ends the current message; an answer's ends its call.
func (p *parser) endMessage(now int64) {
	if !p.resp {
		if p.rec != nil {
			p.c.mu.Lock()
			p.rec.in = now
			p.c.mu.Unlock()
		}
		p.resetMessage()
		return
	}
	pc, ok := p.c.pop()
	if !ok {
		p.c.lose("an answer to no request")
		return
	}
	status := p.status
	body, over := p.body, p.bodyOver
	if pc.rec != nil {
		body, over = pc.rec.resp.b, pc.rec.resp.more > 0
	}
	if p.c.counter != nil {
		counted := status
		if status == 200 && !over && hasErr(body) {
			counted = StatusErr
		}
		p.c.counter.Count(pc.method, counted, time.Duration(now-pc.start))
	}
	if pc.rec != nil {
		p.c.emit(pc, status, now, "")
	}
	p.resetMessage()
}

func (p *parser) resetMessage() {
	p.state, p.inMsg = stLine, false
	p.length, p.hasLen, p.chunked, p.otherTE = 0, false, false, false
	p.status, p.capture, p.body, p.bodyOver, p.rec = 0, false, p.body[:0], false, nil
}

// decimal parses a Content-Length.
func decimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// chunkSize parses a chunk-size line: hex digits, then maybe extensions.
func chunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.Trim(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
