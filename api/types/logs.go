package types

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"time"

	"github.com/plugdbg/plugdbg/logs"
)

// LogOptions select the lines Logs returns.
type LogOptions struct {
	Follow bool
	Since  time.Time // inclusive; zero: from the start
	Until  time.Time // exclusive; zero: no end (with Follow, following ends then)
	Tail   int       // the last Tail lines of the history; 0: all
	Stream string    // "stdout", "stderr" or "" for both
	Grep   *regexp.Regexp
	// Before, if set, keeps only lines before this one in the order Logs
	// sends them (time, then plugin ID, then seq): the page of history
	// before the oldest line a viewer holds, even where many lines share a
	// time. Not with Follow.
	Before *LogPosition
	// Started, if set, is called once before any line is sent, when a
	// follower is subscribed to live lines: a caller that tells its client
	// "following" only then loses no line written in between.
	Started func()
}

// LogPosition names one line of the merged history.
type LogPosition struct {
	Time   int64 // unix nanoseconds
	Plugin string
	Seq    uint64
}

// LogLine is one line as the API streams it: a plugin line, or a marker of
// lines a follower could not get.
type LogLine struct {
	Plugin  string `json:"plugin"`
	Name    string `json:"name"`
	Seq     uint64 `json:"seq,omitempty"`
	Time    int64  `json:"time,omitempty"` // unix nanoseconds
	Stream  string `json:"stream,omitempty"`
	Line    string `json:"line,omitempty"`
	LineB64 string `json:"line_b64,omitempty"` // the line, when it is not valid UTF-8
	Partial bool   `json:"partial,omitempty"`
	// Skipped is set on a marker: this many lines are gone from the history
	// (rotated away) before the follower could read them.
	Skipped uint64 `json:"skipped,omitempty"`
}

// AppendJSON appends l's JSON form, the one encoding/json writes for it,
// without allocating: the API encodes every followed line.
func (l LogLine) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"plugin":`...)
	dst = logs.AppendJSONString(dst, l.Plugin)
	dst = append(dst, `,"name":`...)
	dst = logs.AppendJSONString(dst, l.Name)
	if l.Seq != 0 {
		dst = strconv.AppendUint(append(dst, `,"seq":`...), l.Seq, 10)
	}
	if l.Time != 0 {
		dst = strconv.AppendInt(append(dst, `,"time":`...), l.Time, 10)
	}
	if l.Stream != "" {
		dst = logs.AppendJSONString(append(dst, `,"stream":`...), l.Stream)
	}
	if l.Line != "" {
		dst = logs.AppendJSONString(append(dst, `,"line":`...), l.Line)
	}
	if l.LineB64 != "" {
		dst = logs.AppendJSONString(append(dst, `,"line_b64":`...), l.LineB64)
	}
	if l.Partial {
		dst = append(dst, `,"partial":true`...)
	}
	if l.Skipped != 0 {
		dst = strconv.AppendUint(append(dst, `,"skipped":`...), l.Skipped, 10)
	}
	return append(dst, '}')
}

// Text returns the line's bytes, exactly as the plugin wrote them.
func (l LogLine) Text() string {
	if l.LineB64 != "" {
		if b, err := base64.StdEncoding.DecodeString(l.LineB64); err == nil {
			return string(b)
		}
	}
	return l.Line
}
