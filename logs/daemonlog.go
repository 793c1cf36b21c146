package logs

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	if e.Context == batchContext {
		// Lines TagBatch formatted: handed on as they are, without a
		// copy. The logger only writes them to its output, and TagBatch
		// keeps the bytes until Log returns.
		return unsafe.Slice(unsafe.StringData(e.Message), len(e.Message)), nil
	}
	b := e.Buffer
	if b == nil {
		b = new(bytes.Buffer)
	}
	id, ok := e.Data["plugin"].(string)
	if !ok || e.Context != tagContext || len(e.Data) != 1 || e.Caller != nil {
		return f.TextFormatter.Format(e)
	}
	b.Write(f.appendTagged(b.AvailableBuffer(), nil, e.Time, e.Level, e.Message, appendPluginField(nil, id)))
	return b.Bytes(), nil
}

// appendTagged appends one plugin line as the TextFormatter would write an
// entry with the single field plugin=id, whose text, appendPluginField's,
// is field. ts, if not nil, caches the formatting of the timestamp's
// second for the next line.
func (f *daemonFormatter) appendTagged(dst []byte, ts *stampCache, t time.Time, level logrus.Level, msg string, field []byte) []byte {
	dst = ts.append(dst, f.TimestampFormat, t)
	dst = append(dst, " level="...)
	dst = append(dst, level.String()...) // never needs quotes
	if msg != "" {
		dst = appendTextValue(append(dst, " msg="...), msg)
	}
	return append(dst, field...)
}

// appendPluginField appends what ends a tagged line of plugin id: its
// field and the newline. A batch's lines share it, and an ID, 64
// characters, is not quoted again for each.
func appendPluginField(dst []byte, id string) []byte {
	return append(appendTextValue(append(dst, " plugin="...), id), '\n')
}

// stampCache writes a batch's "time=…" fields through one StampCache, so
// that lines within the same second share its formatting. A nil
// *stampCache caches nothing.
type stampCache struct{ StampCache }

// append appends "time=" and t formatted by layout as the TextFormatter
// writes it: timestampFormat's times hold colons, so it quotes them.
func (c *stampCache) append(dst []byte, layout string, t time.Time) []byte {
	if c == nil || layout != timestampFormat {
		return appendStamp(dst, layout, t)
	}
	dst = c.StampCache.Append(append(dst, `time="`...), layout, t)
	return append(dst, '"')
}

// appendNanos appends ns (below 1e9) as nine digits, two at a time.
func appendNanos(dst []byte, ns int) []byte {
	var d [9]byte
	d[8] = byte('0' + ns%10)
	ns /= 10
	for i := 6; i >= 0; i -= 2 {
		q := ns % 100 * 2
		d[i], d[i+1] = digitPairs[q], digitPairs[q+1]
		ns /= 100
	}
	return append(dst, d[:]...)
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendStamp appends "time=" and t formatted by layout, quoted as the
// TextFormatter quotes it.
func appendStamp(dst []byte, layout string, t time.Time) []byte {
	var buf [len(timestampFormat) + 16]byte
	ts := t.AppendFormat(buf[:0], layout)
	return appendTextValue(append(dst, "time="...), unsafe.String(unsafe.SliceData(ts), len(ts)))
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
	bp := batchBufs.Get().(*[]byte)
	defer batchBufs.Put(bp)
	b := (*bp)[:0]
	var ts stampCache
	var fieldBuf [128]byte
	field := appendPluginField(fieldBuf[:0], id)
	for _, e := range es {
		level, ok := LineLevel(e.Line)
		if !ok {
			level = logrus.InfoLevel
			if e.Stream == Stderr {
				level = logrus.ErrorLevel
			}
		}
		if l.IsLevelEnabled(level) {
			b = f.appendTagged(b, &ts, time.Unix(0, e.Time), level, e.Line, field)
		}
	}
	if cap(b) <= maxPooledBatch {
		*bp = b
	}
	if len(b) == 0 {
		return
	}
	entry := tagEntries.Get().(*logrus.Entry)
	*entry = logrus.Entry{Logger: l, Context: batchContext}
	// ErrorLevel is enabled (checked above) and fires no hook (there are
	// none); the lines carry their own levels. The message is b itself,
	// not a copy: Format hands it to the output, and nothing keeps it
	// after Log returns.
	entry.Log(logrus.ErrorLevel, unsafe.String(unsafe.SliceData(b), len(b)))
	*entry = logrus.Entry{}
	tagEntries.Put(entry)
}

// maxPooledBatch bounds the buffer a TagBatch keeps for the next one: a
// batch of long lines does not pin its memory.
const maxPooledBatch = 4 << 20

var batchBufs = sync.Pool{New: func() any { return new([]byte) }}

// appendTextValue appends s as the TextFormatter writes a string value:
// bare if every byte is a letter, digit or one of -._/@^+, else quoted as
// by strconv.Quote. Printable ASCII, most of what plugins write, is quoted
// in the same pass that copies it; strconv, which decodes and checks every
// rune, quotes the rest.
func appendTextValue(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && textSafe[s[i]] {
		i++
	}
	if i == len(s) {
		return append(dst, s...)
	}
	mark := len(dst)
	dst = append(append(dst, '"'), s[:i]...)
	start := i
	for ; i < len(s); i++ {
		if i = skipQuoteSafe(s, i); i == len(s) {
			break
		}
		switch quoteClass[s[i]] {
		case quotePlain:
			continue
		case quoteEscape:
			dst = append(append(dst, s[start:i]...), '\\', s[i])
			start = i + 1
		default:
			return strconv.AppendQuote(dst[:mark], s)
		}
	}
	return append(append(dst, s[start:]...), '"')
}

// quoteClass[c] says how strconv.Quote writes byte c of a string that is
// printable ASCII so far: as it is, after a backslash, or (quoteOther: a
// control character or a byte of a multi-byte rune) only strconv knows.
var quoteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == '"' || c == '\\':
			t[c] = quoteEscape
		case c < 0x20 || c >= 0x7f:
			t[c] = quoteOther
		}
	}
	return t
}()

const (
	quotePlain = iota
	quoteEscape
	quoteOther
)

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
