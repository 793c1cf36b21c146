package logs

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// timestampFormat is RFC 3339 with fixed-width nanoseconds, the format
// dockerd logs with (containerd/log.RFC3339NanoFixed). time.RFC3339Nano
// drops trailing zeros, so its lines neither line up nor sort as text.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// NewDaemonLogger returns the logger the daemon writes to: logrus text
// format with nanosecond timestamps as dockerd's, so that plugin lines
// keep the order and precision the monitor recorded.
func NewDaemonLogger() *logrus.Logger {
	l := logrus.New()
	l.SetFormatter(&daemonFormatter{TextFormatter: logrus.TextFormatter{
		FullTimestamp:   true,
		TimestampFormat: timestampFormat,
		DisableColors:   true,
	}})
	return l
}

// tagContext marks the entries Tag makes, for daemonFormatter.
var tagContext = context.WithValue(context.Background(), tagContextKey{}, true)

type tagContextKey struct{}

// Tag writes one plugin line to the daemon log as dockerd does, with field
// plugin=<id> and the monitor's timestamp. The line's level is its own
// (LineLevel) if it has one, else the stream's: info for stdout, error for
// stderr. A line below the logger's level costs no more than LineLevel.
// Fatal and panic lines are only logged: Tag neither exits nor panics.
//
// Tag is safe for concurrent use, as the logger is.
func Tag(l *logrus.Logger, id string, e Entry) {
	level, ok := LineLevel(e.Line)
	if !ok {
		level = logrus.InfoLevel
		if e.Stream == Stderr {
			level = logrus.ErrorLevel
		}
	}
	if !l.IsLevelEnabled(level) {
		return
	}
	// logrus copies the entry and its fields before it hands them to hooks
	// and the formatter, so both are reused rather than allocated anew as
	// WithField(…).WithTime(…) would.
	entry := tagEntries.Get().(*logrus.Entry)
	*entry = logrus.Entry{Logger: l, Data: tagFields(id), Time: time.Unix(0, e.Time), Context: tagContext}
	entry.Log(level, e.Line)
	*entry = logrus.Entry{}
	tagEntries.Put(entry)
}

var tagEntries = sync.Pool{New: func() any { return new(logrus.Entry) }}

// lastTagFields caches the fields of the plugin Tag saw last: lines come
// in batches of one plugin.
var lastTagFields atomic.Pointer[pluginFields]

type pluginFields struct {
	id     string
	fields logrus.Fields // read only
}

// tagFields returns the fields plugin=id. The map must not be changed.
func tagFields(id string) logrus.Fields {
	if c := lastTagFields.Load(); c != nil && c.id == id {
		return c.fields
	}
	c := &pluginFields{id: id, fields: logrus.Fields{"plugin": id}}
	lastTagFields.Store(c)
	return c.fields
}

// daemonFormatter is the TextFormatter it embeds, with a fast path for the
// entries Tag makes (unless a hook added fields to them): it writes the
// same bytes as the TextFormatter without its map copy, key sorting and
// fmt calls. TestDaemonFormatterMatchesTextFormatter holds it to that.
type daemonFormatter struct {
	logrus.TextFormatter
}

// Format implements logrus.Formatter.
func (f *daemonFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b := e.Buffer
	if b == nil {
		b = new(bytes.Buffer)
	}
	if e.Context == batchContext {
		b.WriteString(e.Message) // lines TagBatch formatted
		return b.Bytes(), nil
	}
	id, ok := e.Data["plugin"].(string)
	if !ok || e.Context != tagContext || len(e.Data) != 1 || e.Caller != nil {
		return f.TextFormatter.Format(e)
	}
	f.appendTagged(b, e.Time, e.Level, e.Message, id)
	return b.Bytes(), nil
}

// appendTagged writes one plugin line as the TextFormatter would write an
// entry with the single field plugin=id.
func (f *daemonFormatter) appendTagged(b *bytes.Buffer, t time.Time, level logrus.Level, msg, id string) {
	var ts [len(timestampFormat) + 16]byte
	b.WriteString("time=")
	appendTextValue(b, t.AppendFormat(ts[:0], f.TimestampFormat))
	b.WriteString(" level=")
	b.WriteString(level.String()) // never needs quotes
	if msg != "" {
		b.WriteString(" msg=")
		appendTextValue(b, msg)
	}
	b.WriteString(" plugin=")
	appendTextValue(b, id)
	b.WriteByte('\n')
}

// batchContext marks the entries TagBatch makes: their message is lines
// already formatted.
var batchContext = context.WithValue(context.Background(), tagContextKey{}, "batch")

// TagBatch is Tag for consecutive lines of one plugin. With the daemon's
// formatter and no hooks, it formats them together and hands them to the
// logger as one entry, written under the logger's lock in one Write:
// the lines come out as Tag would write them, at a fraction of the cost
// of a logrus entry per line. Otherwise it calls Tag for each line.
func TagBatch(l *logrus.Logger, id string, es []Entry) {
	f, ok := l.Formatter.(*daemonFormatter)
	if !ok || len(l.Hooks) > 0 || l.ReportCaller || !l.IsLevelEnabled(logrus.ErrorLevel) {
		for _, e := range es {
			Tag(l, id, e)
		}
		return
	}
	b := batchBufs.Get().(*bytes.Buffer)
	defer batchBufs.Put(b)
	b.Reset()
	for _, e := range es {
		level, ok := LineLevel(e.Line)
		if !ok {
			level = logrus.InfoLevel
			if e.Stream == Stderr {
				level = logrus.ErrorLevel
			}
		}
		if l.IsLevelEnabled(level) {
			f.appendTagged(b, time.Unix(0, e.Time), level, e.Line, id)
		}
	}
	if b.Len() == 0 {
		return
	}
	entry := tagEntries.Get().(*logrus.Entry)
	*entry = logrus.Entry{Logger: l, Context: batchContext}
	// ErrorLevel is enabled (checked above) and fires no hook (there are
	// none); the lines carry their own levels.
	entry.Log(logrus.ErrorLevel, b.String())
	*entry = logrus.Entry{}
	tagEntries.Put(entry)
}

var batchBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// appendTextValue writes s as the TextFormatter writes a string value:
// bare if every byte is a letter, digit or one of -._/@^+, else quoted as
// by strconv.Quote.
func appendTextValue[S string | []byte](b *bytes.Buffer, s S) {
	for i := range len(s) {
		if c := s[i]; !textSafe[c] {
			appendQuoted(b, string(s))
			return
		}
	}
	b.Write([]byte(s))
}

// appendQuoted writes strconv.Quote(s). Printable ASCII, most of what
// plugins write, is copied as it is but for " and \; strconv, which
// decodes and checks every rune, quotes the rest.
func appendQuoted(b *bytes.Buffer, s string) {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			b.Write(strconv.AppendQuote(b.AvailableBuffer(), s))
			return
		}
	}
	b.WriteByte('"')
	start := 0
	for i := range len(s) {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteString(s[start:i])
			b.WriteByte('\\')
			b.WriteByte(c)
			start = i + 1
		}
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// textSafe[c] reports whether the TextFormatter writes byte c unquoted.
var textSafe = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for _, c := range "-._/@^+" {
		t[c] = true
	}
	return t
}()
