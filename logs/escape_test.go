package logs_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/plugdbg/plugdbg/logs"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "empty", line: "", want: ""},
		{name: "ASCII", line: `GET /x?a=b&c="d" \ 200`, want: `GET /x?a=b&c="d" \ 200`},
		{name: "tab kept", line: "a\tb", want: "a\tb"},
		{name: "UTF-8 kept", line: "héllo 日本語 🎉 \u2028 \ufffd", want: "héllo 日本語 🎉 \u2028 \ufffd"},
		{name: "ANSI colour", line: "\x1b[31mred\x1b[0m", want: `\x1b[31mred\x1b[0m`},
		{name: "carriage return", line: "progress 10%\rprogress 100%", want: `progress 10%\rprogress 100%`},
		{name: "short escapes", line: "\a\b\f\n\v", want: `\a\b\f\n\v`},
		{name: "NUL and DEL", line: "a\x00b\x7f", want: `a\x00b\x7f`},
		{name: "invalid bytes", line: "a\xffb\xc3\x28", want: `a\xffb\xc3(`},
		{name: "cut multibyte rune", line: "ab\xe2\x82", want: `ab\xe2\x82`},
		{name: "C1 CSI", line: "\u009b31mred", want: `\u009b31mred`},
		{name: "C1 NEL", line: "a\u0085b", want: `a\u0085b`},
		{name: "first non-C1", line: "\u00a0", want: "\u00a0"},
		{name: "mixed", line: "é\x1bé\xffé", want: `é\x1bé\xffé`},
		{name: "late ESC", line: "0123456789abcdef\tghijklmnopq\x1b[0m", want: "0123456789abcdef\tghijklmnopq\\x1b[0m"},
		{name: "late C1", line: "0123456789abcdef\u009b", want: `0123456789abcdef\u009b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, logs.Escape(tt.line))
		})
	}
}

// TestEscapeIsSafe checks every byte and every rune below U+0100: what
// Escape returns is valid UTF-8 without control characters but tab.
func TestEscapeIsSafe(t *testing.T) {
	var inputs []string
	for b := range 256 {
		inputs = append(inputs, string([]byte{'x', byte(b), 'y'}))
	}
	for r := rune(0); r < 0x100; r++ {
		inputs = append(inputs, "x"+string(r)+"y")
	}
	for _, in := range inputs {
		out := logs.Escape(in)
		assert.True(t, utf8.ValidString(out), "%q", in)
		for _, r := range out {
			assert.False(t, r != '\t' && (r < 0x20 || 0x7f <= r && r < 0xa0), "%q escapes to %q", in, out)
		}
		assert.True(t, strings.HasPrefix(out, "x") && strings.HasSuffix(out, "y"), "%q escapes to %q", in, out)
	}
}

// TestAppendEscapeMatchesEscape: AppendEscape appends what Escape
// returns, for every byte and rune below U+0100 at every place in a line
// longer than a word.
func TestAppendEscapeMatchesEscape(t *testing.T) {
	for r := rune(0); r < 0x100; r++ {
		for _, c := range []string{string(r), string([]byte{byte(r)})} {
			for pad := range 17 {
				in := strings.Repeat("x", pad) + c + strings.Repeat("y", 17-pad)
				assert.Equal(t, "> "+logs.Escape(in), string(logs.AppendEscape([]byte("> "), in)), "%q", in)
			}
		}
	}
}

func TestEscapeDoesNotAllocate(t *testing.T) {
	line := strings.Repeat("héllo wörld ", 20)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = logs.Escape(line) }))
}

func ExampleEscape() {
	fmt.Println(logs.Escape("\x1b[31mfailed\x1b[0m: bad byte \xff, tab\tok"))
	// Output: \x1b[31mfailed\x1b[0m: bad byte \xff, tab	ok
}
