package logs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func lines(es []Entry) []string {
	var out []string
	for _, e := range es {
		l := e.Line
		if e.Partial {
			l += "…"
		}
		out = append(out, l)
	}
	return out
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name  string
		max   int // default 64
		feeds []string
		want  []string // "…" marks a Partial entry
		flush []string // after Flush(final=true)
	}{
		{name: "whole lines", feeds: []string{"a\nbb\n"}, want: []string{"a", "bb"}},
		{name: "empty lines kept", feeds: []string{"\n\na\n"}, want: []string{"", "", "a"}},
		{name: "line across feeds", feeds: []string{"he", "llo\nwor", "ld\n"}, want: []string{"hello", "world"}},
		{name: "no final newline", feeds: []string{"a\nrest"}, want: []string{"a"}, flush: []string{"rest"}},
		{name: "cut at max", max: 4, feeds: []string{"0123456789\n"}, want: []string{"0123…", "4567…", "89"}},
		{name: "cut at max across feeds", max: 4, feeds: []string{"0123", "45", "6789", "\n"}, want: []string{"0123…", "4567…", "89"}},
		{name: "exactly max", max: 4, feeds: []string{"0123\n"}, want: []string{"0123"}},
		{name: "invalid utf-8 kept", feeds: []string{"a\xffb\n"}, want: []string{"a\xffb"}},
		{name: "carriage return kept", feeds: []string{"a\r\n"}, want: []string{"a\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 64
			}
			s := NewSplitter(Stdout, max)
			var out []Entry
			for _, f := range tt.feeds {
				out = s.Feed([]byte(f), 1, out)
			}
			assert.Equal(t, tt.want, lines(out))
			assert.Equal(t, tt.flush, lines(s.Flush(2, true, nil)))
			assert.False(t, s.Pending())
		})
	}
}

func TestSplitterIdleFlushIsPartial(t *testing.T) {
	s := NewSplitter(Stderr, 64)
	out := s.Feed([]byte("prompt: "), 1, nil)
	assert.Empty(t, out)
	assert.True(t, s.Pending())
	out = s.Flush(2, false, out)
	assert.Equal(t, []Entry{{Time: 2, Stream: Stderr, Line: "prompt: ", Partial: true}}, out)
	out = s.Feed([]byte("yes\n"), 3, nil)
	assert.Equal(t, []Entry{{Time: 3, Stream: Stderr, Line: "yes"}}, out)
}

func BenchmarkSplitter(b *testing.B) {
	line := strings.Repeat("x", 99) + "\n"
	chunk := []byte(strings.Repeat(line, 640)) // 64000 bytes, as one pipe read
	s := NewSplitter(Stdout, 64<<10)
	out := make([]Entry, 0, 1024)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		out = s.Feed(chunk, 1, out[:0])
	}
	b.ReportMetric(float64(b.N*640)/b.Elapsed().Seconds(), "lines/s")
}
