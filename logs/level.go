package logs

import (
	"encoding/json"
	"strings"

	"github.com/sirupsen/logrus"
)

// LineLevel returns the level a line carries itself, and whether it has
// one:
//
//   - a JSON object (first byte '{') with a "level" or "lvl" member whose
//     value is a level name; "level" wins when both are there;
//   - otherwise a logfmt key level= or lvl= anywhere in the line, its value
//     bare or quoted (level=debug, level="warn", lvl=error). The key must
//     start the line or follow a space or tab, and not sit inside a quoted
//     value: msg="level=debug" carries no level.
//
// Level names are trace, debug, info, warn, warning, error, err, fatal and
// panic, in any case. Numeric levels (pino, bunyan) are not understood.
//
// LineLevel does not allocate for a line that has neither "level" nor
// "lvl" in it.
func LineLevel(line string) (logrus.Level, bool) {
	if len(line) > 0 && line[0] == '{' && (strings.Contains(line, `level"`) || strings.Contains(line, `lvl"`)) {
		if lvl, ok, isJSON := jsonLevel(line); isJSON {
			return lvl, ok
		}
	}
	return logfmtLevel(line)
}

// jsonLevel returns the level of a JSON object line; isJSON is false if
// line is not one. (A JSON object without "level" or "lvl" goes to
// logfmtLevel, which finds no key in it: the JSON's strings are quoted.)
func jsonLevel(line string) (lvl logrus.Level, ok, isJSON bool) {
	var v struct {
		Level json.RawMessage `json:"level"`
		Lvl   json.RawMessage `json:"lvl"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return 0, false, false
	}
	for _, raw := range []json.RawMessage{v.Level, v.Lvl} {
		var name string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &name) == nil {
			if lvl, ok := levelByName(name); ok {
				return lvl, true, true
			}
		}
	}
	return 0, false, true
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
