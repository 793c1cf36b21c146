package logs

// Joiner puts back together, for the daemon log, the lines a Splitter of
// MaxPiece cut for length, so that a 70 KB line is one line there as it
// is in `plugdbg logs`. A piece shorter than MaxPiece was flushed because
// the plugin went idle mid-line: it is passed on as it is, since the rest
// may never come. A joined line is passed on, still Partial, once it
// reaches limit bytes, which bounds the memory a runaway line can take.
// A Joiner is not safe for concurrent use.
type Joiner struct {
	limit   int
	pending [2][]byte // by stream: stdout, stderr
	from    [2]uint64 // the seq of each stream's first pending piece
}

// MaxPiece is the longest piece of a line the monitor keeps as one entry;
// longer lines are cut into Partial pieces of this size.
const MaxPiece = 64 * 1024

// NewJoiner returns a Joiner that passes a line on at limit bytes at most
// (rounded up to whole pieces).
func NewJoiner(limit int) *Joiner { return &Joiner{limit: limit} }

// Add takes the next entry of a plugin and returns the line to log, or
// false while the line goes on.
func (j *Joiner) Add(e Entry) (Entry, bool) {
	i := 0
	if e.Stream == Stderr {
		i = 1
	}
	p := &j.pending[i]
	if e.Partial && len(e.Line) == MaxPiece && len(*p)+len(e.Line) < j.limit {
		if len(*p) == 0 {
			j.from[i] = e.Seq
		}
		*p = append(*p, e.Line...)
		return Entry{}, false
	}
	if len(*p) > 0 {
		e.Line = string(append(*p, e.Line...))
		*p = (*p)[:0]
		j.from[i] = 0
		if cap(*p) > 4*MaxPiece {
			*p = nil // a rare long line does not pin its memory
		}
	}
	return e, true
}

// Held returns the seq of the first piece Add holds back, 0 if none: the
// pieces from it on are not logged yet.
func (j *Joiner) Held() uint64 {
	a, b := j.from[0], j.from[1]
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}
