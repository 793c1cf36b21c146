package monitor

import (
	"bufio"
	"encoding/json"
	"io"
	"net"

	"github.com/plugdbg/plugdbg/logs"
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
	br := bufio.NewReader(conn)
	dec := json.NewDecoder(br)
	var req request
	if err := dec.Decode(&req); err != nil {
		return
	}
	switch req.Op {
	case "attach":
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
	var buf []byte
	for {
		m.mu.Lock()
		for !s.gone && s.sent >= m.lastSeq && m.exit == nil && s.unstored == m.unstored {
			m.cond.Wait()
		}
		if s.gone {
			m.mu.Unlock()
			return
		}
		var msg Message
		first := m.lastSeq + 1
		if len(m.unacked) > 0 {
			first = m.unacked[0].Seq
		}
		if s.sent+1 < first {
			msg.Skipped, msg.SkippedAfter = first-s.sent-1, s.sent
			s.sent = first - 1
		}
		if s.sent < m.lastSeq {
			start := int(s.sent + 1 - first)
			end := min(len(m.unacked), start+maxBatch)
			msg.Lines = append([]logs.Entry(nil), m.unacked[start:end]...)
			s.sent = msg.Lines[len(msg.Lines)-1].Seq
		}
		if m.unstored != s.unstored {
			msg.Unstored, s.unstored = m.unstored, m.unstored
		}
		last := false
		if s.sent >= m.lastSeq && m.exit != nil {
			msg.Exit = m.exit
			last = true
		}
		m.mu.Unlock()
		buf = encodeMessage(buf[:0], msg)
		if _, err := s.conn.Write(buf); err != nil {
			return
		}
		if last {
			return // the exit stays readable after the monitor is gone
		}
	}
}

// encodeMessage frames msg for the wire: each line as its own record, in
// the log file's format (cheap to write and to read), and the rest as JSON
// objects, one per line, that a record never starts like.
func encodeMessage(dst []byte, msg Message) []byte {
	if msg.Skipped > 0 {
		dst = appendControl(dst, Message{Skipped: msg.Skipped, SkippedAfter: msg.SkippedAfter})
	}
	for _, e := range msg.Lines {
		dst = append(e.AppendJSON(dst), '\n')
	}
	if msg.Unstored > 0 {
		dst = appendControl(dst, Message{Unstored: msg.Unstored})
	}
	if msg.Exit != nil {
		dst = appendControl(dst, Message{Exit: msg.Exit})
	}
	return dst
}

func appendControl(dst []byte, m Message) []byte {
	b, _ := json.Marshal(m)
	return append(append(dst, b...), '\n')
}
