package logs

import (
	"encoding/json"
	"strings"

	"github.com/sirupsen/logrus"
)

// LineLevel returns the level a line carries itself, and whether it has
// one:
//
//   - a JSON object (first byte '{', valid JSON as encoding/json has it)
//     with a member "level" or "lvl" whose value is a string naming a
//     level; "level" wins when both are there, and the last of duplicate
//     keys counts, as with encoding/json. Nested members do not count.
//   - otherwise a logfmt key level= or lvl= anywhere in the line, its value
//     bare or quoted (level=debug, level="warn", lvl=error). The key must
//     start the line or follow a space or tab, and not sit inside a quoted
//     value: msg="level=debug" carries no level.
//
// Level names are trace, debug, info, warn, warning, error, err, fatal and
// panic, in any case; keys are lower case. Numeric levels (pino, bunyan)
// are not understood.
//
// LineLevel runs for every line a plugin writes, so it scans JSON by hand
// (FuzzLineLevelJSON holds it to encoding/json) and does not allocate
// unless a key or level name is spelt with JSON escapes.
func LineLevel(line string) (logrus.Level, bool) {
	if len(line) > 0 && line[0] == '{' {
		if lvl, ok, isJSON := jsonLevel(line); isJSON {
			return lvl, ok
		}
	}
	return logfmtLevel(line)
}

// jsonLevel returns the level of a JSON object line; isJSON is false if
// line is not one.
func jsonLevel(line string) (lvl logrus.Level, ok, isJSON bool) {
	p := jsonScanner{s: line}
	var level, lvlValue string // raw values of the last such members
	if !p.object(1, func(key, value string) {
		switch unquoteJSON(key) {
		case "level":
			level = value
		case "lvl":
			lvlValue = value
		}
	}) {
		return 0, false, false
	}
	p.space()
	if p.i != len(line) {
		return 0, false, false
	}
	for _, v := range []string{level, lvlValue} {
		if len(v) > 0 && v[0] == '"' {
			if lvl, ok := levelByName(unquoteJSON(v)); ok {
				return lvl, true, true
			}
		}
	}
	return 0, false, true
}

// unquoteJSON returns the value of the valid JSON string s, quotes
// included.
func unquoteJSON(s string) string {
	if !strings.Contains(s, `\`) {
		return s[1 : len(s)-1]
	}
	var v string
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// jsonScanner checks JSON text (RFC 8259) as encoding/json's scanner
// does, without decoding it.
type jsonScanner struct {
	s string
	i int
}

func (p *jsonScanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object scans an object at depth, calling member with the raw key and
// value of each of its members.
func (p *jsonScanner) object(depth int, member func(key, value string)) bool {
	if depth > maxJSONDepth || p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		start := p.i
		if !p.string() {
			return false
		}
		key := p.s[start:p.i]
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		start = p.i
		if !p.value(depth) {
			return false
		}
		if member != nil {
			member(key, p.s[start:p.i])
		}
		if more, ok := p.next('}'); !more {
			return ok
		}
	}
}

func (p *jsonScanner) array(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	p.i++ // '['
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return true
	}
	for {
		p.space()
		if !p.value(depth) {
			return false
		}
		if more, ok := p.next(']'); !more {
			return ok
		}
	}
}

// next consumes what follows a member or an element: a ',' (more) or the
// container's closing byte (ok, and no more).
func (p *jsonScanner) next(closing byte) (more, ok bool) {
	p.space()
	if p.i >= len(p.s) {
		return false, false
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

// value scans a value inside a container at depth.
func (p *jsonScanner) value(depth int) bool {
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.string()
	case c == '{':
		return p.object(depth+1, nil)
	case c == '[':
		return p.array(depth + 1)
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return false
}

func (p *jsonScanner) literal(lit string) bool {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return false
	}
	p.i += len(lit)
	return true
}

func (p *jsonScanner) digits() int {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

func (p *jsonScanner) number() bool {
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

// string scans a string. Like encoding/json it accepts any bytes but
// control characters, invalid UTF-8 included.
func (p *jsonScanner) string() bool {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i >= len(p.s) {
				return false
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p.i+4 > len(p.s) {
					return false
				}
				for _, h := range []byte(p.s[p.i : p.i+4]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// logfmtLevel returns the level of a logfmt key level= or lvl= in line.
func logfmtLevel(line string) (logrus.Level, bool) {
	first := strings.Index(line, "level=")
	if i := strings.Index(line, "lvl="); i >= 0 && (first < 0 || i < first) {
		first = i
	}
	if first < 0 {
		return 0, false
	}
	// Walk the line from its start to know what is inside quotes.
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if quoted {
			switch c {
			case '\\':
				i++
			case '"':
				quoted = false
			}
			continue
		}
		if c == '"' {
			quoted = true
			continue
		}
		if i < first || i > 0 && line[i-1] != ' ' && line[i-1] != '\t' {
			continue
		}
		var rest string
		switch {
		case strings.HasPrefix(line[i:], "level="):
			rest = line[i+len("level="):]
		case strings.HasPrefix(line[i:], "lvl="):
			rest = line[i+len("lvl="):]
		default:
			continue
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return 0, false
			}
			value = rest[1 : 1+end]
		} else {
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			value = rest[:end]
		}
		if lvl, ok := levelByName(value); ok {
			return lvl, true
		}
	}
	return 0, false
}

// levelByName maps a level name, in any case, to its logrus level.
func levelByName(name string) (logrus.Level, bool) {
	if len(name) > len("warning") {
		return 0, false
	}
	var buf [len("warning")]byte
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(name)]) {
	case "trace":
		return logrus.TraceLevel, true
	case "debug":
		return logrus.DebugLevel, true
	case "info":
		return logrus.InfoLevel, true
	case "warn", "warning":
		return logrus.WarnLevel, true
	case "error", "err":
		return logrus.ErrorLevel, true
	case "fatal":
		return logrus.FatalLevel, true
	case "panic":
		return logrus.PanicLevel, true
	}
	return 0, false
}
