// Package logs holds the per-plugin log format that monitors write and the
// daemon reads (and the API's JSON form of a line, from the same encoder),
// its size-based rotation and the reading of its history, the hub the
// daemon publishes live lines to, and the tagging of plugin lines in the
// daemon's own log. Following them is logs/follow.
package logs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Stream names, as Docker uses them.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Entry is one line a plugin wrote, without its trailing newline.
type Entry struct {
	// Seq numbers the entries of one plugin from 1, without gaps, across
	// all its runs and log rotations: the monitor continues from the last
	// entry in the log (LastSeq). So (plugin, Seq) names an entry for
	// ever, and Seq orders a plugin's entries.
	Seq    uint64
	Time   int64  // unix nanoseconds at which the monitor read the line
	Stream string // Stdout or Stderr
	Line   string // raw bytes; may be invalid UTF-8
	// Partial marks a piece of a line longer than the reader's buffer; the
	// next entry of the same stream continues it.
	Partial bool
	// Raw is the entry's record as the log file holds it, when the entry
	// was decoded from that canonical form (DecodeEntryIn, the history
	// reader), "" otherwise. The API's form of the line is its head
	// (AppendAPIHead) and Raw after its "{", byte for byte, so a follower
	// passes it on without encoding the line again (AppendAPIRaw).
	Raw string
}

// wireEntry is Entry's JSON form: one object per line of the log file.
// Lines that are not valid UTF-8 are stored base64-encoded in LineB64 so
// that the file keeps them byte-exact. AppendJSON writes this form by hand;
// wireEntry remains the reference for it and the decoder of last resort.
type wireEntry struct {
	Seq     uint64 `json:"seq"`
	Time    int64  `json:"time"`
	Stream  string `json:"stream"`
	Line    string `json:"line,omitempty"`
	LineB64 string `json:"line_b64,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// MarshalJSON implements json.Marshaler. It returns AppendJSON's bytes.
func (e Entry) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 64+len(e.Line)+len(e.Line)/8)), nil
}

// UnmarshalJSON implements json.Unmarshaler. It accepts every JSON form of
// wireEntry, not only the one AppendJSON writes.
func (e *Entry) UnmarshalJSON(b []byte) error {
	return decodeEntry(b, e)
}

// decodeSlow decodes b through encoding/json and wireEntry.
func (e *Entry) decodeSlow(b []byte) error {
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
