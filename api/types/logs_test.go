package types_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

// TestLogLineAppendJSONMatchesEncodingJSON: the hand-written encoder
// (logs.Record's API form) writes what encoding/json writes, for lines
// that exercise every escape and every omitted field.
func TestLogLineAppendJSONMatchesEncodingJSON(t *testing.T) {
	var allASCII strings.Builder
	for c := range 0x80 {
		allASCII.WriteByte(byte(c))
	}
	tests := []struct {
		name string
		line types.LogLine
	}{
		{name: "zero", line: types.LogLine{}},
		{name: "plain", line: types.LogLine{Plugin: "abc", Name: "p:latest", Seq: 7, Time: 1700000000123456789, Stream: "stdout", Line: "hello"}},
		{name: "escapes", line: types.LogLine{Plugin: "abc", Name: "p:latest", Seq: 1, Time: 2, Stream: "stderr", Line: "a\"b\\c\t<&>\u2028\u2029\x01"}},
		{name: "every ASCII byte", line: types.LogLine{Plugin: "abc", Name: "p", Seq: 1, Line: allASCII.String()}},
		{name: "HTML characters everywhere", line: types.LogLine{Plugin: "<a>", Name: "&amp;", Stream: "<s>", Line: `<a href="x">&amp;</a>`, LineB64: "<&>"}},
		{name: "control characters", line: types.LogLine{Plugin: "abc", Name: "p", Line: "\x00\x1b[31mred\x7f\b\f\n\r", Seq: 2}},
		{name: "C1 controls and multibyte", line: types.LogLine{Plugin: "abc", Name: "p", Line: "\u0085\u009b héllo 日本語 🎉 \ufffd"}},
		{name: "invalid UTF-8 in every string", line: types.LogLine{Plugin: "a\xffb", Name: "n\xc3\x28", Stream: "s\xfe", Line: "a\xffb\xc3\x28"}},
		{name: "base64 line", line: types.LogLine{Plugin: "abc", Name: "p", Seq: 3, Time: 4, Stream: "stdout", LineB64: "Yf9i"}},
		{name: "line and base64 line both", line: types.LogLine{Plugin: "abc", Name: "p", Line: "x", LineB64: "/w=="}},
		{name: "empty partial", line: types.LogLine{Plugin: "abc", Name: "p", Seq: 5, Time: 6, Stream: "stdout", Partial: true}},
		{name: "negative time and extremes", line: types.LogLine{Plugin: "abc", Name: "p", Seq: 1<<64 - 1, Time: -1 << 63, Skipped: 1<<64 - 1}},
		{name: "marker", line: types.LogLine{Plugin: "abc", Name: "p", Skipped: 42}},
		{name: "empty plugin and name", line: types.LogLine{Seq: 1, Time: 1, Stream: "stdout", Line: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.line)
			require.NoError(t, err)
			got := tt.line.AppendJSON([]byte("kept"))
			assert.Equal(t, "kept"+string(want), string(got), "appends to dst")
		})
	}
}

func TestLogLineRoundTripAndText(t *testing.T) {
	l := types.LogLine{Plugin: "abc", Name: "p", Seq: 3, Time: 4, Stream: "stdout", LineB64: "Yf9i", Partial: true}
	var back types.LogLine
	require.NoError(t, json.Unmarshal(l.AppendJSON(nil), &back))
	assert.Equal(t, l, back)
	assert.Equal(t, "a\xffb", back.Text(), "Text restores the raw bytes")
	assert.Equal(t, "plain", types.LogLine{Line: "plain"}.Text())
}

// FuzzLogLineAppendJSON holds the encoder to encoding/json for any line.
func FuzzLogLineAppendJSON(f *testing.F) {
	f.Add("abc", "p:latest", uint64(1), int64(2), "stdout", "hello", "", false, uint64(0))
	f.Add("a\xff", "<&>", uint64(0), int64(-1), "", "a\xffb\u2028", "/w==", true, uint64(9))
	f.Fuzz(func(t *testing.T, plugin, name string, seq uint64, tm int64, stream, line, lineB64 string, partial bool, skipped uint64) {
		l := types.LogLine{Plugin: plugin, Name: name, Seq: seq, Time: tm, Stream: stream, Line: line, LineB64: lineB64, Partial: partial, Skipped: skipped}
		want, err := json.Marshal(l)
		require.NoError(t, err)
		require.Equal(t, string(want), string(l.AppendJSON(nil)))
	})
}
