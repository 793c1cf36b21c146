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
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.pending = append(s.pending, data...)
			for len(s.pending) >= s.max {
				out = append(out, s.entry(s.pending[:s.max], now, true))
				s.pending = append(s.pending[:0], s.pending[s.max:]...)
			}
			return out
		}
		line := data[:i]
		data = data[i+1:]
		if len(s.pending) > 0 {
			s.pending = append(s.pending, line...)
			line = s.pending
		}
		for len(line) > s.max {
			out = append(out, s.entry(line[:s.max], now, true))
			line = line[s.max:]
		}
		out = append(out, s.entry(line, now, false))
		s.pending = s.pending[:0]
	}
	return out
}

// Flush appends the unfinished line, if any, as an entry: Partial when the
// stream goes on (an idle flush: the rest of the line may follow), complete
// at the end of the stream.
func (s *Splitter) Flush(now int64, final bool, out []Entry) []Entry {
	if len(s.pending) == 0 {
		return out
	}
	out = append(out, s.entry(s.pending, now, !final))
	s.pending = s.pending[:0]
	return out
}

func (s *Splitter) entry(line []byte, now int64, partial bool) Entry {
	return Entry{Time: now, Stream: s.stream, Line: string(line), Partial: partial}
}
