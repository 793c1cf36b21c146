package types

import (
	"encoding/base64"
	"regexp"
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
	// SendCopies says that send keeps no LogLine, nor any string of one,
	// after it returns: lines read from the history may then point into
	// the reader's buffer rather than be copied (logs.Filter.InPlace).
	SendCopies bool
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
	// Record, in the daemon, is the line's record in its log file when
	// that holds the fields above after Name as they are (logs.Entry.Raw,
	// logs.AppendAPIRaw): the API's stream then sends it rather than
	// encoding the line again. It never crosses the socket.
	Record string `json:"-"`
}

// AppendJSON appends l's JSON form, the one encoding/json writes for it,
// without allocating: the API encodes every followed line. It is the log
// file's encoder too (logs.Record).
func (l LogLine) AppendJSON(dst []byte) []byte {
	r := logs.Record{Plugin: l.Plugin, Name: l.Name, Seq: l.Seq, Time: l.Time, Stream: l.Stream,
		Line: l.Line, LineB64: l.LineB64, Partial: l.Partial, Skipped: l.Skipped}
	return r.AppendJSON(dst, logs.APIForm)
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
