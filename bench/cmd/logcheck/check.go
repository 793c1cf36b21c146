package main

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// seqSet records the sequence numbers seen on one stream.
type seqSet struct {
	seen     []uint64 // bitmap, bit n for seq n
	distinct uint64
	dups     uint64
	min, max uint64 // of the seqs seen; min is 0 while none was
}

func (s *seqSet) add(seq uint64) {
	w := seq / 64
	if w >= uint64(len(s.seen)) {
		s.seen = slices.Grow(s.seen, int(w+1)-len(s.seen))[:w+1]
	}
	bit := uint64(1) << (seq % 64)
	if s.seen[w]&bit != 0 {
		s.dups++
		return
	}
	s.seen[w] |= bit
	s.distinct++
	if s.min == 0 || seq < s.min {
		s.min = seq
	}
	s.max = max(s.max, seq)
}

// gaps is the number of seqs missing between the first and the last seen.
func (s *seqSet) gaps() uint64 {
	if s.distinct == 0 {
		return 0
	}
	return s.max - s.min + 1 - s.distinct
}

// hist is a log-linear histogram of non-negative durations in microseconds:
// exact below 128 µs, then 64 buckets per power of two (under 1.6% error).
type hist struct {
	counts []uint64
	n      uint64
	max    int64
}

const subBits = 7 // 2^subBits exact buckets

func bucketOf(us int64) int {
	if us < 1<<subBits {
		return int(us)
	}
	shift := bits.Len64(uint64(us)) - subBits
	m := us >> shift // in [64, 128)
	return 1<<subBits + (shift-1)<<(subBits-1) + int(m-1<<(subBits-1))
}

// valueOf is the middle of bucket b, the inverse of bucketOf.
func valueOf(b int) int64 {
	if b < 1<<subBits {
		return int64(b)
	}
	b -= 1 << subBits
	shift := b>>(subBits-1) + 1
	m := int64(b&(1<<(subBits-1)-1) + 1<<(subBits-1))
	return m<<shift + 1<<(shift-1)
}

func (h *hist) add(d time.Duration) {
	us := max(int64(d/time.Microsecond), 0)
	b := bucketOf(us)
	if b >= len(h.counts) {
		h.counts = slices.Grow(h.counts, b+1-len(h.counts))[:b+1]
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, us)
}

// quantile returns the q-quantile (0 < q ≤ 1) in microseconds, or -1 for an
// empty histogram.
func (h *hist) quantile(q float64) int64 {
	if h.n == 0 {
		return -1
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var c uint64
	for b, n := range h.counts {
		if c += n; c >= rank {
			return min(valueOf(b), h.max)
		}
	}
	return h.max
}

// checker accumulates what it parsed from the lines it was given.
type checker struct {
	streams  map[string]*seqSet
	order    []string // streams in order of first appearance
	lines    uint64   // flood lines
	other    uint64   // lines that are not flood lines
	skipped  uint64   // sum of N in "N lines skipped" markers
	markers  uint64   // number of such markers
	done     bool     // the "flood done" line was seen
	written  map[string]uint64
	elapsed  string // the done line's elapsed=, "-" if none
	negative uint64 // lines whose latency came out negative (counted as 0)
	recv     hist   // receive time − t
	stamp    hist   // the line's own timestamp (-t, daemon log) − t
}

func newChecker() *checker {
	return &checker{streams: map[string]*seqSet{}, written: map[string]uint64{}, elapsed: "-"}
}

var (
	seqKey     = []byte("seq=")
	doneKey    = []byte("flood done lines=")
	skippedKey = []byte(" lines skipped")
)

// floodLine parses the flood fields of line: the stream named just before
// "seq=" (stdout or stderr), the seq and t. ok is false when line is not a
// flood line, or is two of them run together.
func floodLine(line []byte) (stream string, seq uint64, t int64, ok bool) {
	i := bytes.Index(line, seqKey)
	if i < 1 || line[i-1] != ' ' {
		return "", 0, 0, false
	}
	j := bytes.LastIndexAny(line[:i-1], " \"|") + 1
	stream = string(line[j : i-1])
	rest := line[i+len(seqKey):]
	seq, rest, ok = leadingUint(rest)
	if !ok || seq == 0 || !bytes.HasPrefix(rest, []byte(" t=")) {
		return "", 0, 0, false
	}
	tu, _, ok := leadingUint(rest[3:])
	if !ok || (stream != "stdout" && stream != "stderr") {
		return "", 0, 0, false
	}
	return stream, seq, int64(tu), true
}

func leadingUint(b []byte) (uint64, []byte, bool) {
	n := 0
	for n < len(b) && n < 20 && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	v, err := strconv.ParseUint(string(b[:n]), 10, 64)
	return v, b[n:], err == nil
}

// skippedCount parses a "… N lines skipped …" marker.
func skippedCount(line []byte) (uint64, bool) {
	i := bytes.Index(line, skippedKey)
	if i < 0 {
		return 0, false
	}
	j := i
	for j > 0 && (line[j-1] >= '0' && line[j-1] <= '9' || line[j-1] == ',') {
		j--
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(string(line[j:i]), ",", ""), 10, 64)
	return n, err == nil
}

// doneCounts parses a "flood done" line: its per-stream counts and its
// elapsed time, as in "flood done lines=3 elapsed=1.5s stdout=2 stderr=1".
func doneCounts(line []byte) (counts map[string]uint64, elapsed string, ok bool) {
	i := bytes.Index(line, doneKey)
	if i < 0 {
		return nil, "", false
	}
	counts = map[string]uint64{}
	for _, f := range strings.Fields(string(line[i:])) {
		k, v, ok := strings.Cut(strings.Trim(f, `"`), "=")
		switch {
		case !ok:
		case k == "elapsed":
			if d, err := time.ParseDuration(v); err == nil {
				elapsed = strconv.FormatFloat(d.Seconds(), 'f', 6, 64) + "s"
			}
		case k == "stdout" || k == "stderr":
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				counts[k] = n
			}
		}
	}
	return counts, elapsed, true
}

// stampOf finds the time a log line carries: a leading RFC 3339 timestamp
// (plugdbg logs -t), one after a "name | " prefix (--all -t), or a logrus
// time="…" field (the daemon logs).
func stampOf(line []byte) (time.Time, bool) {
	if i := bytes.Index(line, []byte(`time="`)); i >= 0 {
		rest := line[i+6:]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
			return t, err == nil
		}
		return time.Time{}, false
	}
	if i := bytes.Index(line, []byte(" | ")); i >= 0 && i < bytes.Index(line, seqKey) {
		line = line[i+3:]
	}
	j := bytes.IndexByte(line, ' ')
	if j < 20 || line[0] < '0' || line[0] > '9' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:j]))
	return t, err == nil
}

// add takes one line, without its newline, read at recv; a zero recv
// measures no receive latency.
func (c *checker) add(line []byte, recv time.Time) {
	stream, seq, t, ok := floodLine(line)
	if !ok {
		c.other++
		if n, ok := skippedCount(line); ok {
			c.skipped += n
			c.markers++
		} else if counts, elapsed, ok := doneCounts(line); ok {
			c.done = true
			if elapsed != "" {
				c.elapsed = elapsed
			}
			for k, v := range counts {
				c.written[k] = v
			}
		}
		return
	}
	c.lines++
	s := c.streams[stream]
	if s == nil {
		s = &seqSet{}
		c.streams[stream] = s
		c.order = append(c.order, stream)
	}
	s.add(seq)
	if !recv.IsZero() {
		c.latency(&c.recv, recv.UnixNano()-t)
	}
	if st, ok := stampOf(line); ok {
		c.latency(&c.stamp, st.UnixNano()-t)
	}
}

func (c *checker) latency(h *hist, d int64) {
	if d < 0 {
		c.negative++
		d = 0
	}
	h.add(time.Duration(d))
}

// complete says whether every stream the done line counted has all its
// lines, so a reader can stop.
func (c *checker) complete() bool {
	if !c.done {
		return false
	}
	for k, n := range c.written {
		if s := c.streams[k]; n > 0 && (s == nil || s.distinct < n) {
			return false
		}
	}
	return true
}

// report is the one-line summary, key=value pairs separated by spaces.
//
//	lines     flood lines read (duplicates included)
//	distinct  distinct (stream, seq) pairs
//	written   lines the plugin reported writing (flood done), -1 if unknown
//	elapsed   the plugin's writing time (flood done) in seconds, "-" if unknown
//	missing   written − distinct, or gaps when written is unknown
//	gaps      seqs missing between the first and the last seen, per stream
//	head      seqs missing before the first seen (rotated out, or not yet followed)
//	tail      seqs missing after the last seen, when written is known
//	dups      lines whose (stream, seq) was seen before
//	skipped   sum of the "N lines skipped" markers; markers: their number
//	other     lines that are not flood lines (markers and done included)
//	recv_*    receive time − t, in ms (with -latency)
//	stamp_*   the line's own timestamp − t, in ms
//	negative  latencies below zero, counted as zero
func (c *checker) report() string {
	var distinct, gaps, head, tail, dups uint64
	for _, k := range c.order {
		s := c.streams[k]
		distinct += s.distinct
		gaps += s.gaps()
		dups += s.dups
		if s.distinct > 0 {
			head += s.min - 1
		}
	}
	written := int64(-1)
	missing := int64(gaps + head)
	if c.done {
		var w uint64
		for k, n := range c.written {
			w += n
			if s := c.streams[k]; s == nil {
				tail += n
			} else if n > s.max {
				tail += n - s.max
			}
		}
		written = int64(w)
		missing = int64(head + gaps + tail)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "lines=%d distinct=%d written=%d elapsed=%s missing=%d gaps=%d head=%d tail=%d dups=%d skipped=%d markers=%d other=%d",
		c.lines, distinct, written, c.elapsed, missing, gaps, head, tail, dups, c.skipped, c.markers, c.other)
	for _, h := range []struct {
		name string
		h    *hist
	}{{"recv", &c.recv}, {"stamp", &c.stamp}} {
		top := h.h.max
		if h.h.n == 0 {
			top = -1
		}
		fmt.Fprintf(&b, " %s_p50=%s %s_p99=%s %s_max=%s", h.name, ms(h.h.quantile(0.5)), h.name, ms(h.h.quantile(0.99)), h.name, ms(top))
	}
	fmt.Fprintf(&b, " negative=%d", c.negative)
	return b.String()
}

// ms formats microseconds as milliseconds; "-" for none.
func ms(us int64) string {
	if us < 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(us)/1000, 'f', 3, 64)
}
