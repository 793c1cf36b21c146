package client

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// logsStreamSample is lines as the daemon streams them, newline and all.
var logsStreamSample = []types.LogLine{
	{Plugin: "abc", Name: "p:latest", Seq: 7, Time: 1700000000123456789, Stream: "stdout", Line: "hello <&> \"q\" é"},
	{Plugin: "abc", Name: "p:latest", Seq: 8, Time: 1700000000123456790, Stream: "stderr", Line: "piece", Partial: true},
	{Plugin: "abc", Name: "p:latest", Seq: 9, Time: 1700000000123456791, Stream: "stdout", LineB64: "/wA="},
	{Plugin: "abc", Name: "p:latest", Skipped: 42},
}

// TestDecodeLogLine: each line of the daemon's stream decodes to what
// encoding/json makes of it, and an error line is an error.
func TestDecodeLogLine(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		var rec logs.Record
		for _, want := range logsStreamSample {
			line := append(want.AppendJSON(nil), '\n')
			got, err := decodeLogLine(line, &rec, inPlace)
			require.NoError(t, err)
			assert.Equal(t, want, got, "in place %v", inPlace)
		}
		if inPlace {
			// Without escapes, the text is the line's own bytes: what the
			// reader's next read changes.
			want := types.LogLine{Plugin: "abc", Name: "p:latest", Seq: 10, Time: 1, Stream: "stdout", Line: "a plain line"}
			line := append(want.AppendJSON(nil), '\n')
			got, err := decodeLogLine(line, &rec, true)
			require.NoError(t, err)
			require.Equal(t, want, got)
			clear(line)
			assert.NotEqual(t, want.Line, got.Line)
		}
		got, err := decodeLogLine([]byte(`{ "plugin": "abc", "line": "spaced" }`+"\n"), &rec, inPlace)
		require.NoError(t, err)
		assert.Equal(t, types.LogLine{Plugin: "abc", Line: "spaced"}, got)
		_, err = decodeLogLine([]byte(`{"error":"plugin gone"}`+"\n"), &rec, inPlace)
		assert.EqualError(t, err, "plugin gone")
		_, err = decodeLogLine([]byte("{\n"), &rec, inPlace)
		assert.ErrorContains(t, err, "read logs")
	}
}

// TestDecodeLogLineSkipsReflection: a line as the daemon writes it, its
// newline included, takes the fast decoder (one string, the line's text),
// not encoding/json.
func TestDecodeLogLineSkipsReflection(t *testing.T) {
	line := append(types.LogLine{Plugin: "abc", Name: "p:latest", Seq: 7, Time: 1, Stream: "stdout", Line: "hello, é"}.AppendJSON(nil), '\n')
	var rec logs.Record
	_, err := decodeLogLine(line, &rec, false)
	require.NoError(t, err)
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { _, _ = decodeLogLine(line, &rec, false) }), 1.0)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = decodeLogLine(line, &rec, true) }), "in place, not even the text")
}

// BenchmarkDecodeLogLine is a follower decoding a flood of 100-byte
// lines: encoding/json (what every line cost while the newline kept it
// from the fast decoder) and decodeLogLine.
func BenchmarkDecodeLogLine(b *testing.B) {
	line := append(types.LogLine{Plugin: strings.Repeat("f", 64), Name: "flood:latest", Seq: 123456, Time: 1700000000123456789,
		Stream: "stdout", Line: "flood 0000123 " + strings.Repeat("x", 86)}.AppendJSON(nil), '\n')
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var v struct {
				types.LogLine
				Error string `json:"error"`
			}
			_ = json.Unmarshal(line, &v)
		}
	})
	b.Run("fast", func(b *testing.B) {
		var rec logs.Record
		for b.Loop() {
			_, _ = decodeLogLine(line, &rec, false)
		}
	})
	b.Run("fast in place", func(b *testing.B) {
		var rec logs.Record
		for b.Loop() {
			_, _ = decodeLogLine(line, &rec, true)
		}
	})
}
