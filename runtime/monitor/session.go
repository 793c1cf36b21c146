package monitor

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net"
	"slices"
)

// session is one attached daemon. A new attach replaces the previous one, so
// a daemon that restarts takes over without waiting for the old connection
// to time out.
type session struct {
	conn     net.Conn
	sent     uint64 // last seq written to conn
	unstored uint64 // last Unstored written to conn
	done     chan struct{}
	gone     bool
}

func (m *monitor) serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			return
		}
		go m.handle(conn)
	}
}

func (m *monitor) handle(conn net.Conn) {
	defer conn.Close()
	first, files, err := readFirst(conn)
	if err != nil {
		return
	}
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(first), conn))
	dec := json.NewDecoder(br)
	var req request
	if err := dec.Decode(&req); err != nil || req.Op != "exec" {
		closeFiles(files) // files come with an exec only
		files = nil
		if err != nil {
			return
		}
	}
	switch req.Op {
	case "attach":
	case "exec":
		m.exec(conn, io.MultiReader(dec.Buffered(), br), req.Exec, files)
		return
	case "calls", "observe", "point":
		m.answer(conn, req)
		return
	case "trace":
		m.streamTrace(conn, io.MultiReader(dec.Buffered(), br), req)
		return
	default:
		return
	}
	s := &session{conn: conn, done: make(chan struct{})}
	pid, _ := m.process.Pid()
	if err := json.NewEncoder(conn).Encode(Message{Hello: &Hello{Pid: pid, StartedAt: m.startedAt, Phases: m.clock.phases}}); err != nil {
		return
	}

	m.mu.Lock()
	if old := m.session; old != nil {
		old.gone = true
		old.conn.Close()
	}
	m.session = s
	m.attached = true
	// Resume after the last line the previous daemon acknowledged: lines
	// dropped from memory since then are reported as Skipped, so that the
	// daemon reads them from the log file.
	s.sent = m.ackedSeq
	m.cond.Broadcast()
	m.mu.Unlock()

	go m.write(s)
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			break
		}
		switch req.Op {
		case "ack":
			m.ack(req.Seq)
		case "stop":
			m.stop(req.Grace)
		case "log-limits":
			if m.log != nil {
				m.log.SetLimits(req.MaxSize, req.MaxFiles)
			}
		}
	}
	m.mu.Lock()
	s.gone = true
	if m.session == s {
		m.session = nil
	}
	m.cond.Broadcast()
	m.mu.Unlock()
	<-s.done
}

// answer serves a one-shot request with one reply line.
func (m *monitor) answer(conn net.Conn, req request) {
	var r reply
	switch req.Op {
	case "calls":
		c := m.obs.snapshot()
		r.Calls = &c
	case "observe":
		m.obs.set(req.On)
		wait := min(req.Wait, maxObserveWait)
		var s ObserveStatus
		if req.On && wait > 0 {
			s = m.obs.wait(wait)
		} else {
			m.obs.mu.Lock()
			s = m.obs.status()
			m.obs.mu.Unlock()
		}
		r.Observe = &s
	case "point":
		m.obs.mu.Lock()
		s := m.obs.status()
		m.obs.mu.Unlock()
		r.Observe = &s
	}
	_ = json.NewEncoder(conn).Encode(r)
}

// write streams queued lines, then the exit status, to one session.
func (m *monitor) write(s *session) {
	defer close(s.done)
	var bufs, vec net.Buffers
	for {
		m.mu.Lock()
		for !s.gone && s.sent >= m.lastSeq && m.exit == nil && s.unstored == m.unstored {
			m.cond.Wait()
		}
		if s.gone {
			m.mu.Unlock()
			return
		}
		bufs = bufs[:0]
		first := m.lastSeq + 1
		if len(m.unacked) > 0 {
			first = m.unacked[0].first
		}
		if s.sent+1 < first {
			bufs = append(bufs, appendControl(nil, Message{Skipped: first - s.sent - 1, SkippedAfter: s.sent}))
			s.sent = first - 1
		}
		// Each line goes out as its own record, in the log file's format
		// (cheap to write and to read), straight from the spool's chunks:
		// they never change, so they are written after the lock is let
		// go, in one writev.
		i, _ := slices.BinarySearchFunc(m.unacked, s.sent+1, func(c chunk, seq uint64) int {
			return cmp.Compare(c.last(), seq)
		})
		for n := 0; i < len(m.unacked) && n < maxSend; i++ {
			c := &m.unacked[i]
			b := c.from(s.sent + 1)
			bufs = append(bufs, b)
			n += len(b)
			s.sent = c.last()
		}
		if m.unstored != s.unstored {
			bufs = append(bufs, appendControl(nil, Message{Unstored: m.unstored}))
			s.unstored = m.unstored
		}
		last := false
		if s.sent >= m.lastSeq && m.exit != nil {
			bufs = append(bufs, appendControl(nil, Message{Exit: m.exit}))
			last = true
		}
		m.mu.Unlock()
		vec = append(vec[:0], bufs...) // WriteTo consumes its slice
		if _, err := vec.WriteTo(s.conn); err != nil {
			return
		}
		clear(bufs) // the chunks may leave the spool meanwhile
		if last {
			return // the exit stays readable after the monitor is gone
		}
	}
}

// appendControl appends a message other than lines as a JSON object on a
// line of its own, which a record (its lines) never starts like.
func appendControl(dst []byte, m Message) []byte {
	b, _ := json.Marshal(m)
	return append(append(dst, b...), '\n')
}
