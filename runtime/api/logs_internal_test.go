package api

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// TestLineEncoderMatchesAppendJSON: the stream a lineEncoder writes is
// each line's AppendJSON and a newline, whatever the plugins and names
// of the lines in turn, markers and long lines included.
func TestLineEncoderMatchesAppendJSON(t *testing.T) {
	lines := []types.LogLine{
		{Plugin: "abc", Name: "p:latest", Seq: 1, Time: 10, Stream: "stdout", Line: "hello <&>"},
		{Plugin: "abc", Name: "p:latest", Seq: 2, Time: 11, Stream: "stderr", Line: "piece", Partial: true},
		{Plugin: "abc", Name: "p:latest", Skipped: 5},
		{Plugin: "def", Name: "q\"uoted", Seq: 1, Time: 12, Stream: "stdout", LineB64: "/wA="},
		{Plugin: "def", Name: "renamed", Seq: 2, Time: 13, Stream: "stdout", Line: strings.Repeat("long ", 30000)},
		{Plugin: "abc", Name: "p:latest", Seq: 8, Time: 14, Stream: "stdout"},
		{},
	}
	var want, got bytes.Buffer
	e := newLineEncoder(&got)
	for _, l := range lines {
		want.Write(append(l.AppendJSON(nil), '\n'))
		require.NoError(t, e.send(l))
	}
	assert.Equal(t, want.String(), got.String())
}

// BenchmarkLineEncoder is the daemon encoding a follower's flood of
// 100-byte lines: each line's AppendJSON (as before the lineEncoder) and
// the lineEncoder.
func BenchmarkLineEncoder(b *testing.B) {
	l := types.LogLine{Plugin: strings.Repeat("f", 64), Name: "flood:latest", Seq: 123456, Time: 1700000000123456789,
		Stream: "stdout", Line: "flood 0000123 " + strings.Repeat("x", 86)}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = append(l.AppendJSON(buf[:0]), '\n')
			_, _ = discardWriter{}.Write(buf)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		e := newLineEncoder(discardWriter{})
		for b.Loop() {
			_ = e.send(l)
		}
	})
	b.Run("encoder from record", func(b *testing.B) {
		r := l
		r.Record = string(logs.Entry{Seq: l.Seq, Time: l.Time, Stream: l.Stream, Line: l.Line}.AppendJSON(nil))
		e := newLineEncoder(discardWriter{})
		for b.Loop() {
			_ = e.send(r)
		}
	})
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
