package logs

import "bytes"

// Splitter cuts one output stream of a plugin into lines. It keeps the bytes
// of an unfinished line between Feed calls, and cuts lines longer than its
// maximum into Partial pieces so that no line can make the reader stall.
// Empty lines are kept. A Splitter is not safe for concurrent use.
type Splitter struct {
	stream  string
	max     int
	pending []byte
}

// NewSplitter returns a splitter for stream whose entries hold at most max
// bytes each.
func NewSplitter(stream string, max int) *Splitter {
	return &Splitter{stream: stream, max: max}
}

// Pending reports whether an unfinished line is waiting for its newline.
func (s *Splitter) Pending() bool { return len(s.pending) > 0 }

// Feed appends to out the entries that data completes, stamped with now
// (unix nanoseconds), and returns out.
func (s *Splitter) Feed(data []byte, now int64, out []Entry) []Entry {
	s.Cut(data, func(line []byte, partial bool) {
		out = append(out, s.entry(line, now, partial))
	})
	return out
}

// Cut calls fn with each piece of a line that data completes, in order:
// what Feed would make an entry of, without the string. line is valid only
// during the call (it may be the splitter's own buffer): the monitor
// encodes it at once, so that a line costs no allocation of its own.
func (s *Splitter) Cut(data []byte, fn func(line []byte, partial bool)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.pending = append(s.pending, data...)
			for len(s.pending) >= s.max {
				fn(s.pending[:s.max], true)
				s.pending = append(s.pending[:0], s.pending[s.max:]...)
			}
			return
		}
		line := data[:i]
		data = data[i+1:]
		if len(s.pending) > 0 {
			s.pending = append(s.pending, line...)
			line = s.pending
		}
		for len(line) > s.max {
			fn(line[:s.max], true)
			line = line[s.max:]
		}
		fn(line, false)
		s.pending = s.pending[:0]
	}
}

// Flush appends the unfinished line, if any, as an entry: Partial when the
// stream goes on (an idle flush: the rest of the line may follow), complete
// at the end of the stream.
func (s *Splitter) Flush(now int64, final bool, out []Entry) []Entry {
	s.FlushCut(final, func(line []byte, partial bool) {
		out = append(out, s.entry(line, now, partial))
	})
	return out
}

// FlushCut is Flush for Cut: it calls fn with the unfinished line, if any.
func (s *Splitter) FlushCut(final bool, fn func(line []byte, partial bool)) {
	if len(s.pending) == 0 {
		return
	}
	fn(s.pending, !final)
	s.pending = s.pending[:0]
}

func (s *Splitter) entry(line []byte, now int64, partial bool) Entry {
	return Entry{Time: now, Stream: s.stream, Line: string(line), Partial: partial}
}
