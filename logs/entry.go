// Package logs holds the per-plugin log format that monitors write and the
// daemon reads, and the tagging of plugin lines in the daemon's own log.
package logs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Stream names, as Docker uses them.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Entry is one line a plugin wrote, without its trailing newline.
type Entry struct {
	Seq    uint64 // 1-based, gap-free for one plugin run
	Time   int64  // unix nanoseconds at which the monitor read the line
	Stream string // Stdout or Stderr
	Line   string // raw bytes; may be invalid UTF-8
	// Partial marks a piece of a line longer than the reader's buffer; the
	// next entry of the same stream continues it.
	Partial bool
}

// wireEntry is Entry's JSON form: one object per line of the log file.
// Lines that are not valid UTF-8 are stored base64-encoded in LineB64 so
// that the file keeps them byte-exact.
type wireEntry struct {
	Seq     uint64 `json:"seq"`
	Time    int64  `json:"time"`
	Stream  string `json:"stream"`
	Line    string `json:"line,omitempty"`
	LineB64 string `json:"line_b64,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (e Entry) MarshalJSON() ([]byte, error) {
	w := wireEntry{Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial}
	if utf8.ValidString(e.Line) {
		w.Line = e.Line
	} else {
		w.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var w wireEntry
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Entry{Seq: w.Seq, Time: w.Time, Stream: w.Stream, Line: w.Line, Partial: w.Partial}
	if w.LineB64 != "" {
		raw, err := base64.StdEncoding.DecodeString(w.LineB64)
		if err != nil {
			return fmt.Errorf("log entry %d: line_b64: %w", w.Seq, err)
		}
		e.Line = string(raw)
	}
	return nil
}
