package observe

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// Bounds of the parser. Bytes are forwarded whole whatever they are; the
// bounds only say what the parser keeps to look at.
const (
	// maxLine bounds a start line, header line or chunk-size line kept
	// for parsing. A longer header line is skipped (unless it frames the
	// body); a longer start line stops the parsing of its connection.
	maxLine = 8 << 10
	// maxCapture bounds the body of a 200 answer kept to look for a
	// non-empty Err; a longer answer counts as 200.
	maxCapture = 64 << 10
	// maxPending bounds the requests of one connection waiting for their
	// answers (pipelined); past it the connection stops being parsed.
	maxPending = 1024
)

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
	m     *methodStats
	start int64 // on the Stats clock
	head  bool  // a HEAD request: its answer has no body
}

// conn is the parse state of one proxied connection: a parser per
// direction, and the requests waiting for their answers, in order (HTTP/1.1
// answers in the order of the requests, pipelined or not).
type conn struct {
	stats *Stats
	req   parser
	resp  parser

	mu    sync.Mutex
	queue []pending // queue[head:] are waiting
	head  int

	stopped atomic.Bool // parsing stopped: lost (counted as unparsed) or upgraded
	lost    atomic.Bool
}

// parser parses one direction of a connection, fed as bytes pass.
type parser struct {
	c    *conn
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
	capture  bool   // keep the body (a 200 answer), to look for Err
	body     []byte // the kept body
	bodyOver bool   // the body was longer than maxCapture
}

var connPool = sync.Pool{New: func() any {
	c := &conn{}
	c.req = parser{c: c}
	c.resp = parser{c: c, resp: true}
	return c
}}

// newConn returns a reset parse state from the pool; put it back with free.
func newConn(s *Stats) *conn {
	c := connPool.Get().(*conn)
	c.stats = s
	return c
}

func (c *conn) free() {
	c.stats = nil
	c.queue, c.head = c.queue[:0], 0
	c.stopped.Store(false)
	c.lost.Store(false)
	c.req.reset()
	c.resp.reset()
	connPool.Put(c)
}

func (p *parser) reset() {
	line, body := p.line[:0], p.body[:0]
	*p = parser{c: p.c, resp: p.resp, line: line, body: body}
}

// lose stops the parsing of the connection and counts it as unparsed.
func (c *conn) lose() {
	c.stop()
	if c.lost.CompareAndSwap(false, true) {
		c.stats.unparsed.Add(1)
	}
}

// stop stops the parsing of both directions: what follows is forwarded
// without being looked at. Each parser sees it before its next step.
func (c *conn) stop() { c.stopped.Store(true) }

func (c *conn) push(pc pending) bool {
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

func (c *conn) front() (pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.queue) {
		return pending{}, false
	}
	return c.queue[c.head], true
}

func (c *conn) pop() (pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == len(c.queue) {
		return pending{}, false
	}
	pc := c.queue[c.head]
	c.head++
	return pc, true
}

// answersEnded is called when the plugin's side of the connection has
// ended: an answer whose body ends with the connection ends here, and the
// requests left without an answer will get none.
func (c *conn) answersEnded(now int64) {
	if c.stopped.Load() {
		return // what is queued cannot be told apart from what was answered
	}
	if c.resp.state == stUntilClose {
		c.resp.endMessage(now)
	}
	c.unanswered(now)
}

// finish is called once neither direction is fed any more: requests that
// came after the plugin's side ended are left without an answer too.
func (c *conn) finish(now int64) {
	if !c.stopped.Load() {
		c.unanswered(now)
	}
}

// unanswered counts the queued requests as calls without an answer.
func (c *conn) unanswered(now int64) {
	for {
		pc, ok := c.pop()
		if !ok {
			return
		}
		c.stats.record(pc.m, statusNone, now-pc.start)
	}
}

// feed parses b, bytes that pass in p's direction at time now. It does not
// allocate, but for a line that spans reads (kept up to maxLine), a 200
// answer's body (up to maxCapture) and a new method's name.
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

// keep keeps body bytes of an answer that may carry an Err.
func (p *parser) keep(b []byte) {
	if !p.capture || p.bodyOver {
		return
	}
	if len(p.body)+len(b) > maxCapture {
		p.bodyOver = true
		return
	}
	p.body = append(p.body, b...)
}

func (p *parser) onLine(line []byte, over bool, now int64) {
	switch p.state {
	case stLine:
		if len(line) == 0 && !over {
			p.inMsg = false // an empty line before a message is allowed
			return
		}
		if over {
			p.c.lose()
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
			p.c.lose()
			return
		}
		size, ok := chunkSize(line)
		switch {
		case !ok:
			p.c.lose()
		case size == 0:
			p.state = stTrailer
		default:
			p.length, p.state = size, stChunkData
		}
	case stChunkEnd:
		if len(line) != 0 || over {
			p.c.lose()
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
		p.c.lose()
		return
	}
	method, rest := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || !bytes.HasPrefix(rest[sp+1:], []byte("HTTP/1.")) {
		p.c.lose()
		return
	}
	m := p.c.stats.method(rest[:sp])
	if !p.c.push(pending{m: m, start: p.start, head: string(method) == "HEAD"}) {
		p.c.lose()
		return
	}
	p.state = stHeader
}

// statusLine parses "HTTP/1.x SP code [SP reason]".
func (p *parser) statusLine(line []byte) {
	const prefix = "HTTP/1.x "
	if len(line) < len(prefix)+3 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[len(prefix)-1] != ' ' {
		p.c.lose()
		return
	}
	code := 0
	for _, c := range line[len(prefix) : len(prefix)+3] {
		if c < '0' || c > '9' {
			p.c.lose()
			return
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > len(prefix)+3 && line[len(prefix)+3] != ' ' || code < 100 {
		p.c.lose()
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
		p.c.lose()
		return
	}
	name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, ok := decimal(value)
		if over || !ok || p.hasLen && n != p.length {
			p.c.lose()
			return
		}
		p.length, p.hasLen = n, true
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		if over {
			p.c.lose()
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
			p.c.lose() // a server cannot frame it either (RFC 9112 6.3)
		case p.chunked:
			p.state = stChunkSize
		case p.hasLen && p.length > 0:
			p.state = stBody
		default:
			p.endMessage(now)
		}
		return
	}
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
	front, ok := p.c.front()
	if !ok {
		p.c.lose() // an answer to no request
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
	if p.resp {
		pc, ok := p.c.pop()
		if !ok {
			p.c.lose()
			return
		}
		status := p.status
		if status == 200 && p.capture && !p.bodyOver && hasErr(p.body) {
			status = statusErr
		}
		p.c.stats.record(pc.m, status, now-pc.start)
	}
	p.resetMessage()
}

func (p *parser) resetMessage() {
	p.state, p.inMsg = stLine, false
	p.length, p.hasLen, p.chunked, p.otherTE = 0, false, false, false
	p.status, p.capture, p.body, p.bodyOver = 0, false, p.body[:0], false
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

// hasErr reports whether a JSON answer has a non-empty Err (or Error, as
// IPAM answers have), as tracer.ErrField reads it. Most answers carry
// "Err": "": a scan without allocation settles those, and decoding is
// left for the answers that may have one.
func hasErr(body []byte) bool {
	return mayHaveErr(body) && tracer.ErrField(body) != ""
}

// mayHaveErr reports whether body, a JSON object, may have a top-level
// "Err" or "Error" (in any case, as encoding/json matches names) with a
// non-empty string value. It errs towards yes: a key with an escape, or
// input it cannot follow.
func mayHaveErr(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return true
		}
		if b[i] == '}' {
			return false
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return true
		}
		end, escaped := stringEnd(b, i)
		if end < 0 {
			return true
		}
		key := b[i+1 : end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return true
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return true
		}
		if escaped || bytes.EqualFold(key, []byte("Err")) || bytes.EqualFold(key, []byte("Error")) {
			if b[i] == '"' && i+1 < len(b) && b[i+1] != '"' {
				return true
			}
		}
		if i = skipValue(b, i); i < 0 {
			return true
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that ends the string starting
// at b[i] (-1: none), and whether the string has escapes.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the JSON value at b[i], -1 if it
// cannot tell.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end, _ := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			i = end + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}') {
			return i
		}
	}
	return -1
}
