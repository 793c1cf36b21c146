package logs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestJoiner(t *testing.T) {
	piece := func(stream, s string, partial bool) Entry {
		return Entry{Stream: stream, Line: s, Partial: partial}
	}
	a := strings.Repeat("a", MaxPiece)
	b := strings.Repeat("b", MaxPiece)
	type out struct {
		line    string
		partial bool
	}
	tests := []struct {
		name  string
		limit int
		in    []Entry
		want  []out
	}{
		{"whole lines pass", 1 << 20,
			[]Entry{piece(Stdout, "x", false), piece(Stderr, "", false)},
			[]out{{"x", false}, {"", false}}},
		{"cut pieces are joined", 1 << 20,
			[]Entry{piece(Stdout, a, true), piece(Stdout, b, true), piece(Stdout, "end", false)},
			[]out{{a + b + "end", false}}},
		{"streams are joined apart", 1 << 20,
			[]Entry{piece(Stdout, a, true), piece(Stderr, "err", false), piece(Stderr, b, true), piece(Stdout, "out", false), piece(Stderr, "e2", false)},
			[]out{{"err", false}, {a + "out", false}, {b + "e2", false}}},
		{"an idle flush passes at once", 1 << 20,
			[]Entry{piece(Stdout, "no newline yet", true), piece(Stdout, " rest", false)},
			[]out{{"no newline yet", true}, {" rest", false}}},
		{"a cut piece then an idle flush", 1 << 20,
			[]Entry{piece(Stdout, a, true), piece(Stdout, "idle", true)},
			[]out{{a + "idle", true}}},
		{"limit bounds a joined line", 2 * MaxPiece,
			[]Entry{piece(Stdout, a, true), piece(Stdout, b, true), piece(Stdout, a, true), piece(Stdout, "end", false)},
			[]out{{a + b, true}, {a + "end", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJoiner(tt.limit)
			var got []out
			for _, e := range tt.in {
				if l, ok := j.Add(e); ok {
					got = append(got, out{l.Line, l.Partial})
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJoinerHeld(t *testing.T) {
	a := strings.Repeat("a", MaxPiece)
	j := NewJoiner(1 << 20)
	assert.Zero(t, j.Held())
	_, ok := j.Add(Entry{Seq: 5, Stream: Stdout, Line: a, Partial: true})
	assert.False(t, ok)
	_, ok = j.Add(Entry{Seq: 6, Stream: Stderr, Line: a, Partial: true})
	assert.False(t, ok)
	_, ok = j.Add(Entry{Seq: 7, Stream: Stdout, Line: a, Partial: true})
	assert.False(t, ok)
	assert.Equal(t, uint64(5), j.Held())
	_, ok = j.Add(Entry{Seq: 8, Stream: Stdout, Line: "end"})
	assert.True(t, ok)
	assert.Equal(t, uint64(6), j.Held(), "stderr's piece is still held")
	_, ok = j.Add(Entry{Seq: 9, Stream: Stderr, Line: "end"})
	assert.True(t, ok)
	assert.Zero(t, j.Held())
}
