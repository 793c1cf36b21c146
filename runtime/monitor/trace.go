package monitor

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/plugdbg/plugdbg/api/types"
)

// Bounds of what a trace stream keeps for a daemon that reads slowly: past
// either, records are dropped, and counted (TraceMessage.Lost), rather
// than the plugin's calls held up or the monitor's memory grown.
const (
	// maxTraceQueue is the most records waiting for one stream, as many
	// as the daemon keeps for each of its watchers.
	maxTraceQueue = 4096
	// maxTraceBytes bounds the bodies of the records waiting for one
	// stream: a record keeps up to 64 KiB of each.
	maxTraceBytes = 16 << 20
)

// errNoPoint answers a trace request while the recording point is not in
// place: the daemon traces with a proxy of its own then.
var errNoPoint = errors.New("the recording point is not in place")

// traceSub is one trace stream of the calls passing the point: a bounded
// queue the point's connections fill (put, never blocking) and the
// stream's writer empties to the daemon (wait).
type traceSub struct {
	wake chan struct{} // capacity 1: something to send, or gone

	mu   sync.Mutex
	recs []types.TraceRecord
	size int      // bytes of the bodies in recs
	lost uint64   // records dropped since recs were last taken
	end  TraceEnd // set once: the last message
	gone bool     // the stream is over: the writer stops
}

func newTraceSub() *traceSub { return &traceSub{wake: make(chan struct{}, 1)} }

func (s *traceSub) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// put queues r for the daemon, or counts it lost if the queue is full.
// Once one is lost, the next are too until the writer has taken the
// queue, so that a Lost count stands exactly where its records were.
func (s *traceSub) put(r types.TraceRecord) {
	n := len(r.Request) + len(r.Response)
	s.mu.Lock()
	switch {
	case s.end != "" || s.gone:
	case s.lost > 0 || len(s.recs) >= maxTraceQueue || s.size+n > maxTraceBytes:
		s.lost++
	default:
		s.recs = append(s.recs, r)
		s.size += n
	}
	s.mu.Unlock()
	s.signal()
}

// finish ends the stream with why, after what is queued.
func (s *traceSub) finish(why TraceEnd) {
	s.mu.Lock()
	if s.end == "" {
		s.end = why
	}
	s.mu.Unlock()
	s.signal()
}

// close ends the stream at once: its connection is gone.
func (s *traceSub) close() {
	s.mu.Lock()
	s.gone = true
	s.mu.Unlock()
	s.signal()
}

// wait waits for something to send and takes it: the queued records, the
// count of those lost after them, and the end. ok is false once the
// stream is gone.
func (s *traceSub) wait() (recs []types.TraceRecord, lost uint64, end TraceEnd, ok bool) {
	for {
		s.mu.Lock()
		switch {
		case s.gone:
			s.mu.Unlock()
			return nil, 0, "", false
		case len(s.recs) > 0 || s.lost > 0 || s.end != "":
			recs, lost, end = s.recs, s.lost, s.end
			s.recs, s.size, s.lost = nil, 0, 0
			s.mu.Unlock()
			return recs, lost, end, true
		}
		s.mu.Unlock()
		<-s.wake
	}
}

// addTrace attaches a new trace stream to the point, which must be in
// place; the point records calls from then on.
func (o *observer) addTrace() (*traceSub, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.point == nil {
		return nil, errNoPoint
	}
	s := newTraceSub()
	o.tmu.Lock()
	if o.traces == nil {
		o.traces = map[*traceSub]struct{}{}
	}
	o.traces[s] = struct{}{}
	first := len(o.traces) == 1
	o.tmu.Unlock()
	if first {
		o.point.Trace(o.publish)
	}
	return s, nil
}

// removeTrace detaches stream s, if still attached, and ends it; the last
// one to go turns the point's recording off.
func (o *observer) removeTrace(s *traceSub) {
	o.mu.Lock()
	o.tmu.Lock()
	_, had := o.traces[s]
	delete(o.traces, s)
	last := had && len(o.traces) == 0
	o.tmu.Unlock()
	if last && o.point != nil {
		o.point.Trace(nil)
	}
	o.mu.Unlock()
	s.close()
}

// endTraces ends every trace stream with why, after what each has queued:
// the point is going. Caller holds o.mu, and has turned the point's
// recording off.
func (o *observer) endTraces(why TraceEnd) {
	o.tmu.Lock()
	subs := o.traces
	o.traces = nil
	o.tmu.Unlock()
	for s := range subs {
		s.finish(why)
	}
}

// traceCount is the number of trace streams attached.
func (o *observer) traceCount() int {
	o.tmu.Lock()
	defer o.tmu.Unlock()
	return len(o.traces)
}

// publish hands a record from the point to every stream. It runs on the
// point's connections and never blocks on a daemon.
func (o *observer) publish(r types.TraceRecord) {
	o.tmu.Lock()
	defer o.tmu.Unlock()
	for s := range o.traces {
		s.put(r)
	}
}

// streamTrace serves a trace request on conn: a reply line once the
// stream is attached to the point (or why it cannot be), then the records
// of the calls passing the point, until the point goes (the end says why)
// or the connection ends, whichever side ends it: the daemon sends nothing
// after its request, so the end of rest, what follows the request, is the
// daemon closing the connection or dying. Nothing of the stream outlives
// the connection.
func (m *monitor) streamTrace(conn net.Conn, rest io.Reader, req request) {
	enc := json.NewEncoder(conn)
	if req.Version < traceVersion {
		_ = enc.Encode(reply{Error: "trace: the daemon reads no trace stream version this monitor writes"})
		return
	}
	s, err := m.obs.addTrace()
	if err != nil {
		_ = enc.Encode(reply{Error: err.Error()})
		return
	}
	defer m.obs.removeTrace(s)
	if err := enc.Encode(reply{Trace: &traceStart{Version: traceVersion, Socket: m.obs.socket}}); err != nil {
		return
	}
	go func() {
		_, _ = io.Copy(io.Discard, rest)
		m.obs.removeTrace(s)
	}()
	var buf []byte
	for {
		recs, lost, end, ok := s.wait()
		if !ok {
			return
		}
		buf = buf[:0]
		for i := range recs {
			buf = appendTraceMessage(buf, TraceMessage{Record: &recs[i]})
		}
		if lost > 0 {
			buf = appendTraceMessage(buf, TraceMessage{Lost: lost})
		}
		if end != "" {
			buf = appendTraceMessage(buf, TraceMessage{End: end})
		}
		if _, err := conn.Write(buf); err != nil || end != "" {
			return
		}
	}
}

func appendTraceMessage(dst []byte, msg TraceMessage) []byte {
	b, err := json.Marshal(msg)
	if err != nil {
		return dst // a TraceMessage always encodes
	}
	return append(append(dst, b...), '\n')
}
