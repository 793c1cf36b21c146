package logs

import (
	"bytes"
	"time"
)

// StampCache appends times formatted by a layout with nine fixed
// fractional digits (".000000000", as RFC 3339 with nanoseconds), and
// formats each second only once: the lines of a flood mostly share their
// second, and time.Format per line was a good part of writing one. Other
// layouts are formatted as they come. The zero value is ready for use; it
// is not safe for concurrent use.
type StampCache struct {
	sec        int64
	loc        *time.Location
	layout     string
	head, tail []byte // before and after the nine digits of the nanoseconds
}

// Append appends t formatted by layout, as t.AppendFormat(dst, layout).
func (c *StampCache) Append(dst []byte, layout string, t time.Time) []byte {
	if sec := t.Unix(); sec != c.sec || t.Location() != c.loc || layout != c.layout || c.head == nil {
		whole := time.Unix(sec, 0).In(t.Location()).AppendFormat(nil, layout)
		i := bytes.Index(whole, []byte(".000000000"))
		if i < 0 || bytes.Count(whole, []byte(".000000000")) != 1 {
			c.head = nil
			return t.AppendFormat(dst, layout)
		}
		c.sec, c.loc, c.layout = sec, t.Location(), layout
		c.head, c.tail = whole[:i+1], whole[i+10:]
	}
	dst = append(dst, c.head...)
	return append(appendNanos(dst, t.Nanosecond()), c.tail...)
}
