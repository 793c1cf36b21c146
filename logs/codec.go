package logs

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// This file holds the hand-written JSON codec of a log line. The monitor
// encodes every line a plugin writes, the daemon decodes every line it
// reads back, and the API encodes every line it streams, so all avoid
// reflection. One encoder, Record.AppendJSON, writes both forms of a line:
// the log file's, exactly the bytes json.Marshal(wireEntry) produces, and
// the API's, exactly those of json.Marshal(api/types.LogLine)
// (TestAppendJSONMatchesEncodingJSON and FuzzAppendJSON here, and
// api/types' TestLogLineAppendJSONMatchesEncodingJSON and
// FuzzLogLineAppendJSON hold it to that). The decoder, of the file's form, has a
// fast path for that canonical form and hands anything else to
// encoding/json, so every record encoding/json accepts is still accepted.

const hexDigits = "0123456789abcdef"

// jsonSafe[b] reports whether ASCII byte b stands for itself inside a JSON
// string as encoding/json writes it: not a control character, not '"' or
// '\\', and not one of the HTML-sensitive '<', '>', '&' that encoding/json
// escapes by default.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()

// AppendJSON appends e's JSON form, the one MarshalJSON returns, to dst
// without a trailing newline, and returns the extended slice. It does not
// allocate beyond growing dst. Writers of log files should use it rather
// than json.Marshal, which re-validates the output of every MarshalJSON.
func (e Entry) AppendJSON(dst []byte) []byte {
	r := Record{Seq: e.Seq, Time: e.Time, Stream: e.Stream, Line: e.Line, Partial: e.Partial}
	return r.AppendJSON(dst, FileForm)
}

// AppendLineJSON appends the log file's record of one line given as bytes,
// the bytes Entry{Seq: seq, Time: t, Stream: stream, Line: string(line),
// Partial: partial}.AppendJSON appends, without making that string: the
// monitor encodes every line a plugin writes straight from its read
// buffer. line is only read, and only during the call.
func AppendLineJSON(dst []byte, seq uint64, t int64, stream string, line []byte, partial bool) []byte {
	r := Record{Seq: seq, Time: t, Stream: stream, Line: unsafe.String(unsafe.SliceData(line), len(line)), Partial: partial}
	return r.AppendJSON(dst, FileForm)
}

// Form is one of the two JSON forms of a log line that Record writes.
type Form uint8

const (
	// FileForm is a record of the log file, wireEntry's form: seq, time
	// and stream, always; then the raw Line as "line" if it is valid
	// UTF-8 and base64-encoded as "line_b64" if not, so that the file
	// keeps it byte-exact; then partial. Plugin, Name, LineB64 and
	// Skipped are not written.
	FileForm Form = iota
	// APIForm is a line of the API's stream, api/types.LogLine's form:
	// plugin and name, then the other fields only when they are not zero,
	// Line and LineB64 as they are, and skipped last.
	APIForm
)

// Record is a log line as its JSON forms hold it. The log file and the
// API's stream write the same fields in the same order, so one encoder
// serves both, and each form is byte for byte what encoding/json writes
// for its struct (wireEntry, api/types.LogLine).
type Record struct {
	Plugin  string // APIForm only
	Name    string // APIForm only
	Seq     uint64
	Time    int64 // unix nanoseconds
	Stream  string
	Line    string // FileForm: raw bytes; APIForm: the text, as it is
	LineB64 string // APIForm only: the line, base64-encoded
	Partial bool
	Skipped uint64 // APIForm only
}

// AppendJSON appends r's JSON object in form f to dst, without a trailing
// newline, and returns the extended slice. It does not allocate beyond
// growing dst: the monitor encodes every line a plugin writes, the API
// every line it streams.
func (r *Record) AppendJSON(dst []byte, f Form) []byte {
	if f == APIForm {
		return r.AppendAPIBody(AppendAPIHead(dst, r.Plugin, r.Name))
	}
	return r.appendBody(strconv.AppendUint(append(dst, RecordPrefix...), r.Seq, 10), false)
}

// AppendAPIHead appends what a record in APIForm of plugin and name starts
// with. AppendJSON in APIForm is AppendAPIHead then AppendAPIBody: a
// follower's stream encodes its plugin's head once, not for every line.
func AppendAPIHead(dst []byte, plugin, name string) []byte {
	dst = appendJSONString(append(dst, `{"plugin":`...), plugin)
	return appendJSONString(append(dst, `,"name":`...), name)
}

// AppendAPIRaw appends the rest of a line in APIForm after its head
// (AppendAPIHead), from raw, the line's record in the log file (Entry.Raw).
// A record of the file holds the fields of the API's form after plugin
// and name, in the same order, whenever its seq and time are not 0 and its
// stream not "" (which the API's form would omit): the line is not decoded
// and encoded again. For the records a monitor writes the result is byte
// for byte what AppendAPIBody writes; a record written otherwise may
// escape differently, as JSON of the same value.
func AppendAPIRaw(dst []byte, raw string) []byte {
	return append(append(dst, ','), raw[1:]...)
}

// APIRecord returns e.Raw if AppendAPIRaw may send the line from it, ""
// if the line must be encoded from its fields.
func (e Entry) APIRecord() string {
	if e.Seq == 0 || e.Time == 0 || e.Stream == "" {
		return ""
	}
	return e.Raw
}

// AppendAPIBody appends the rest of r in APIForm after its head, Plugin
// and Name (AppendAPIHead).
func (r *Record) AppendAPIBody(dst []byte) []byte {
	if r.Seq != 0 {
		dst = strconv.AppendUint(append(dst, `,"seq":`...), r.Seq, 10)
	}
	return r.appendBody(dst, true)
}

// appendBody appends the fields of r from time on, in APIForm if api,
// else in FileForm.
func (r *Record) appendBody(dst []byte, api bool) []byte {
	if !api || r.Time != 0 {
		dst = strconv.AppendInt(append(dst, `,"time":`...), r.Time, 10)
	}
	if !api || r.Stream != "" {
		dst = appendJSONString(append(dst, `,"stream":`...), r.Stream)
	}
	switch {
	case r.Line == "":
	case api || utf8.ValidString(r.Line):
		dst = appendJSONString(append(dst, `,"line":`...), r.Line)
	default:
		dst = append(dst, `,"line_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, []byte(r.Line))
		dst = append(dst, '"')
	}
	if api && r.LineB64 != "" {
		dst = appendJSONString(append(dst, `,"line_b64":`...), r.LineB64)
	}
	if r.Partial {
		dst = append(dst, `,"partial":true`...)
	}
	if api && r.Skipped != 0 {
		dst = strconv.AppendUint(append(dst, `,"skipped":`...), r.Skipped, 10)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string (RFC 8259) escaped exactly as
// encoding/json escapes it with HTML escaping on: short escapes for \b \f
// \n \r \t, \u00XX for other control characters and < > &, \ufffd for each
// byte of invalid UTF-8, and \u2028 \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i = skipJSONSafe(s, i); i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeEntry decodes one record into e. It parses the form AppendJSON
// writes directly and falls back to encoding/json for anything else
// (other key order, white space, unknown keys, surrogate escapes …), so it
// accepts and rejects exactly what json.Unmarshal into an Entry does.
func decodeEntry(b []byte, e *Entry) error {
	var c Entry
	if decodeCanonical(b, &c) {
		*e = c
		return nil
	}
	return e.decodeSlow(b)
}

// decodeCanonical decodes b if it has exactly the canonical form: keys seq,
// time, stream, then optionally line or line_b64, then optionally
// "partial":true, no white space, nothing after the object. It reports
// false, leaving e partly filled, for anything else.
func decodeCanonical(b []byte, e *Entry) bool {
	return decodeCanonicalIn(canonParser{b: b}, e)
}

// decodeEntryArena is decodeEntry whose records are copied into *arena
// (lineArena) rather than allocated one by one, as e.Raw, with e.Line a
// substring of it unless it held escapes: the history reader decodes
// every line of a catch-up.
func decodeEntryArena(b []byte, e *Entry, arena *[]byte) error {
	// The record goes into the arena whole, and the line is a substring
	// of it (DecodeEntryIn): one copy serves Line and Raw.
	if canonicalStart(b) {
		return DecodeEntryIn(lineArena(arena, b), e)
	}
	return e.decodeSlow(b)
}

// RecordPrefix starts every record of the log file's canonical form
// (Record.AppendJSON in FileForm), on disk and on the monitor's wire.
const RecordPrefix = `{"seq":`

// canonicalStart reports whether b may be a record of the canonical form.
func canonicalStart(b []byte) bool {
	return len(b) > len(RecordPrefix) && string(b[:len(RecordPrefix)]) == RecordPrefix
}

// DecodeEntryIn decodes rec, one record of the log file's form, into e as
// Entry.UnmarshalJSON does, except that e.Line, unless it held escapes,
// is a substring of rec rather than a copy: the daemon copies a batch of
// records from the monitor into one string, and each line of it costs no
// allocation of its own. e.Line keeps the string rec is part of in memory
// while it lives.
func DecodeEntryIn(rec string, e *Entry) error {
	var c Entry
	if decodeCanonicalIn(canonParser{b: unsafe.Slice(unsafe.StringData(rec), len(rec)), src: rec}, &c) {
		c.Raw = rec
		*e = c
		return nil
	}
	return e.decodeSlow([]byte(rec))
}

func decodeCanonicalIn(p canonParser, e *Entry) bool {
	b := p.b
	var ok bool
	if !p.lit(RecordPrefix) {
		return false
	}
	if e.Seq, ok = p.uint(); !ok || !p.lit(`,"time":`) {
		return false
	}
	if e.Time, ok = p.int(); !ok || !p.lit(`,"stream":`) {
		return false
	}
	if e.Stream, ok = p.str(); !ok {
		return false
	}
	e.Line, e.Partial = "", false
	switch {
	case p.lit(`,"line":`):
		if e.Line, ok = p.str(); !ok {
			return false
		}
	case p.lit(`,"line_b64":"`):
		end := p.i
		for end < len(b) && b[end] != '"' && b[end] >= 0x20 && b[end] != '\\' {
			end++
		}
		if end == len(b) || b[end] != '"' {
			return false
		}
		enc := b[p.i:end]
		raw := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
		n, err := base64.StdEncoding.Decode(raw, enc)
		if err != nil {
			return false
		}
		e.Line = string(raw[:n])
		p.i = end + 1
	}
	if p.lit(`,"partial":true`) {
		e.Partial = true
	}
	return p.lit("}") && p.i == len(b)
}

// DecodeAPIRecord decodes b, one line of the API's stream, if it has
// exactly the form Record.AppendJSON writes in APIForm: plugin and name,
// then seq, time, stream, line, line_b64, partial and skipped, each only
// if set, in that order, no white space. It reports false, leaving r
// partly filled, for anything else, which the caller then hands to
// encoding/json: a follower reads every line it prints, and decoding it by
// reflection costs several times more than the daemon's encoding. Plugin,
// Name and Stream are r's own strings again when they are the same as
// before, so that a stream of one plugin's lines costs one string per line.
func DecodeAPIRecord(b []byte, r *Record) bool {
	return decodeAPIRecord(canonParser{b: b}, r)
}

// DecodeAPIRecordIn is DecodeAPIRecord of rec, whose strings it returns,
// unless they held escapes, as substrings of rec rather than copies: for
// a reader that is done with each line before it reads the next.
func DecodeAPIRecordIn(rec string, r *Record) bool {
	return decodeAPIRecord(canonParser{b: unsafe.Slice(unsafe.StringData(rec), len(rec)), src: rec}, r)
}

func decodeAPIRecord(p canonParser, r *Record) bool {
	b := p.b
	var ok bool
	if !p.lit(`{"plugin":`) {
		return false
	}
	if r.Plugin, ok = p.strAgain(r.Plugin); !ok || !p.lit(`,"name":`) {
		return false
	}
	if r.Name, ok = p.strAgain(r.Name); !ok {
		return false
	}
	stream := r.Stream
	r.Seq, r.Time, r.Stream, r.Line, r.LineB64, r.Partial, r.Skipped = 0, 0, "", "", "", false, 0
	if p.lit(`,"seq":`) {
		if r.Seq, ok = p.uint(); !ok {
			return false
		}
	}
	if p.lit(`,"time":`) {
		if r.Time, ok = p.int(); !ok {
			return false
		}
	}
	if p.lit(`,"stream":`) {
		if r.Stream, ok = p.strAgain(stream); !ok {
			return false
		}
	}
	if p.lit(`,"line":`) {
		if r.Line, ok = p.str(); !ok {
			return false
		}
	}
	if p.lit(`,"line_b64":`) {
		if r.LineB64, ok = p.str(); !ok {
			return false
		}
	}
	if p.lit(`,"partial":true`) {
		r.Partial = true
	}
	if p.lit(`,"skipped":`) {
		if r.Skipped, ok = p.uint(); !ok {
			return false
		}
	}
	return p.lit("}") && p.i == len(b)
}

// strAgain is str that returns prev rather than a new string when the
// string holds no escape and has prev's bytes.
func (p *canonParser) strAgain(prev string) (string, bool) {
	if p.i < len(p.b) && p.b[p.i] == '"' {
		// prev came from str: valid UTF-8. Unless it held an escape, the
		// same bytes in b are the same string.
		if end := p.i + 1 + len(prev); end < len(p.b) && p.b[end] == '"' && string(p.b[p.i+1:end]) == prev && plainJSON(prev) {
			p.i = end + 1
			return prev, true
		}
	}
	return p.str()
}

// plainJSON reports whether s stands for itself between the quotes of a
// JSON string: no control character, '"' or '\\'.
func plainJSON(s string) bool {
	for i := skipStrSafe(s, 0); i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// canonParser reads the canonical record form from b at i.
type canonParser struct {
	b   []byte
	i   int
	src string // if not "", b's bytes as a string: str returns its substrings
}

// lineArenaSize is the size of the arenas lineArena fills. A string from
// one keeps its whole arena in memory while it lives: whoever keeps a few
// lines of a history (a tail) keeps a few arenas.
const lineArenaSize = 32 << 10

// lineArena returns b as a string copied into *arena, which it replaces
// by a new one when full. The bytes of an arena are never changed once
// written, so the strings stay as they are.
func lineArena(arena *[]byte, b []byte) string {
	if len(b) > lineArenaSize/16 {
		return string(b)
	}
	a := *arena
	if cap(a)-len(a) < len(b) {
		a = make([]byte, 0, lineArenaSize)
	}
	start := len(a)
	a = append(a, b...)
	*arena = a
	return unsafe.String(unsafe.SliceData(a[start:]), len(b))
}

// lit consumes s if b continues with it.
func (p *canonParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// uint consumes a JSON number that is a uint64 without leading zeros.
func (p *canonParser) uint() (uint64, bool) {
	start := p.i
	var v uint64
	// Nineteen digits always fit: only a twentieth can overflow, so only
	// it is checked (a time in nanoseconds has nineteen).
	for p.i < len(p.b) && p.i-start < 19 && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		v = v*10 + uint64(p.b[p.i]-'0')
		p.i++
	}
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false // overflow: leave the error to encoding/json
		}
		v = v*10 + d
		p.i++
	}
	n := p.i - start
	return v, n > 0 && (n == 1 || p.b[start] != '0')
}

// int consumes a JSON number that is an int64 without leading zeros.
func (p *canonParser) int() (int64, bool) {
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	u, ok := p.uint()
	switch {
	case !ok:
		return 0, false
	case neg && u == 0:
		return 0, true
	case neg && u <= 1<<63:
		return -int64(u-1) - 1, true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// str consumes a JSON string of valid UTF-8 whose escapes are all short
// or \u escapes outside the surrogate range, and returns its value.
func (p *canonParser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	p.i++
	start := p.i
	p.i = skipStrSafe(unsafe.String(unsafe.SliceData(p.b), len(p.b)), p.i)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if p.src != "" && len(s) > len(Stdout) {
				return p.src[start : p.i-1], utf8.Valid(s)
			}
			return internString(s), utf8.Valid(s)
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// strEscaped finishes str for a string that holds escapes, from the first
// backslash at p.i; the string's value began at start.
func (p *canonParser) strEscaped(start int) (string, bool) {
	buf := make([]byte, 0, p.i-start+64)
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), utf8.Valid(buf)
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", false
		}
		p.i += 2
		switch p.b[p.i-1] {
		case '"', '\\', '/':
			buf = append(buf, p.b[p.i-1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if p.i+4 > len(p.b) {
				return "", false
			}
			var r rune
			for _, h := range p.b[p.i : p.i+4] {
				var d byte
				switch {
				case '0' <= h && h <= '9':
					d = h - '0'
				case 'a' <= h && h <= 'f':
					d = h - 'a' + 10
				case 'A' <= h && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", false
				}
				r = r<<4 | rune(d)
			}
			if 0xd800 <= r && r < 0xe000 {
				return "", false // surrogates: leave pairing to encoding/json
			}
			buf = utf8.AppendRune(buf, r)
			p.i += 4
		default:
			return "", false
		}
	}
	return "", false
}

// internString returns the stream names without allocating.
func internString(b []byte) string {
	switch string(b) {
	case Stdout:
		return Stdout
	case Stderr:
		return Stderr
	}
	return string(b)
}

// AppendJSONString appends s as a JSON string, escaped exactly as
// encoding/json escapes it, for writers of other records on hot paths.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }
