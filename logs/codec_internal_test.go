package logs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceJSON is Entry's JSON form as encoding/json writes it from
// wireEntry: the form of every record written before AppendJSON existed.
func referenceJSON(t testing.TB, e Entry) []byte {
	w := wireEntry{Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial}
	if utf8.ValidString(e.Line) {
		w.Line = e.Line
	} else {
		w.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
	}
	b, err := json.Marshal(w)
	require.NoError(t, err)
	return b
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	var allASCII strings.Builder
	for c := range 0x80 {
		allASCII.WriteByte(byte(c))
	}
	tests := []struct {
		name  string
		entry Entry
	}{
		{name: "empty", entry: Entry{}},
		{name: "plain", entry: Entry{Seq: 1, Time: 1700000000123456789, Stream: Stdout, Line: "hello"}},
		{name: "negative time", entry: Entry{Seq: 2, Time: -5, Stream: Stderr, Line: "x"}},
		{name: "extremes", entry: Entry{Seq: 1<<64 - 1, Time: -1 << 63, Stream: Stdout, Line: "y", Partial: true}},
		{name: "every ASCII byte", entry: Entry{Seq: 3, Stream: Stdout, Line: allASCII.String()}},
		{name: "HTML characters", entry: Entry{Seq: 4, Stream: Stdout, Line: `<a href="x">&amp;</a>`}},
		{name: "quotes and backslashes", entry: Entry{Seq: 5, Stream: Stdout, Line: `"\"\\\n`}},
		{name: "multibyte", entry: Entry{Seq: 6, Stream: Stdout, Line: "héllo wörld 日本語 🎉"}},
		{name: "line and paragraph separators", entry: Entry{Seq: 7, Stream: Stdout, Line: "a\u2028b\u2029c\u2027"}},
		{name: "U+FFFD itself", entry: Entry{Seq: 8, Stream: Stdout, Line: "\ufffd"}},
		{name: "invalid UTF-8 goes base64", entry: Entry{Seq: 9, Stream: Stderr, Line: "a\xffb\xc3\x28"}},
		{name: "invalid UTF-8 in stream", entry: Entry{Seq: 10, Stream: "s\xfft<", Line: "z"}},
		{name: "control characters", entry: Entry{Seq: 11, Stream: Stdout, Line: "\x00\x01\x1b[31mred\x7f\b\f"}},
		{name: "C1 controls", entry: Entry{Seq: 12, Stream: Stdout, Line: "\u0085\u009b"}},
		{name: "partial", entry: Entry{Seq: 13, Stream: Stdout, Line: "part", Partial: true}},
		{name: "partial empty", entry: Entry{Seq: 14, Stream: Stdout, Partial: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := referenceJSON(t, tt.entry)
			assert.Equal(t, string(want), string(tt.entry.AppendJSON(nil)))
			viaMarshal, err := json.Marshal(tt.entry)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(viaMarshal))

			// Both decoders read it back to the same entry.
			var fast, slow Entry
			require.NoError(t, decodeEntry(want, &fast))
			require.NoError(t, slow.decodeSlow(want))
			assert.Equal(t, slow, fast)
			assert.True(t, decodeCanonical(want, &Entry{}) || !utf8.ValidString(tt.entry.Stream),
				"the canonical form takes the fast path")
		})
	}
}

func TestDecodeEntryAcceptsOtherForms(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Entry
	}{
		{name: "white space", input: ` { "seq" : 1 , "time" : 2 , "stream" : "stdout" , "line" : "a" } `,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "a"}},
		{name: "other key order", input: `{"line":"a","stream":"stderr","time":2,"seq":1}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stderr, Line: "a"}},
		{name: "unknown key", input: `{"seq":1,"time":2,"stream":"stdout","extra":[1,{"a":null}]}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout}},
		{name: "surrogate pair", input: `{"seq":1,"time":2,"stream":"stdout","line":"\ud83c\udf89"}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "🎉"}},
		{name: "lone surrogate", input: `{"seq":1,"time":2,"stream":"stdout","line":"\ud83c"}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "\ufffd"}},
		{name: "escaped slash and unicode", input: `{"seq":1,"time":2,"stream":"stdout","line":"a\/b\u00e9\u001B"}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "a/bé\x1b"}},
		{name: "partial false", input: `{"seq":1,"time":2,"stream":"stdout","partial":false}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout}},
		{name: "line_b64 wins over line", input: `{"seq":1,"time":2,"stream":"stdout","line":"x","line_b64":"/w=="}`,
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "\xff"}},
		{name: "raw invalid UTF-8 becomes U+FFFD", input: "{\"seq\":1,\"time\":2,\"stream\":\"stdout\",\"line\":\"a\xffb\"}",
			want: Entry{Seq: 1, Time: 2, Stream: Stdout, Line: "a\ufffdb"}},
		{name: "negative zero time", input: `{"seq":1,"time":-0,"stream":"stdout"}`,
			want: Entry{Seq: 1, Stream: Stdout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			require.NoError(t, decodeEntry([]byte(tt.input), &e))
			assert.Equal(t, tt.want, e)
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	tests := []struct {
		name  string
		input string
	}{
		{name: "truncated", input: `{"seq":1,"time":2,"stream":"stdout","line":"ab`},
		{name: "trailing garbage", input: `{"seq":1,"time":2,"stream":"stdout"}x`},
		{name: "seq overflow", input: `{"seq":18446744073709551616,"time":2,"stream":"stdout"}`},
		{name: "time overflow", input: `{"seq":1,"time":9223372036854775808,"stream":"stdout"}`},
		{name: "leading zero", input: `{"seq":01,"time":2,"stream":"stdout"}`},
		{name: "raw control character", input: "{\"seq\":1,\"time\":2,\"stream\":\"stdout\",\"line\":\"a\tb\"}"},
		{name: "bad escape", input: `{"seq":1,"time":2,"stream":"stdout","line":"\q"}`},
		{name: "bad base64", input: `{"seq":1,"time":2,"stream":"stdout","line_b64":"!!"}`},
		{name: "raw newline in base64", input: "{\"seq\":1,\"time\":2,\"stream\":\"stdout\",\"line_b64\":\"/w\n==\"}"},
		{name: "empty", input: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Error(t, decodeEntry([]byte(tt.input), &Entry{}))
		})
	}
}

// FuzzAppendJSON holds AppendJSON to encoding/json's bytes, and the fast
// decoder to the slow one, for any entry.
func FuzzAppendJSON(f *testing.F) {
	f.Add(uint64(1), int64(2), "stdout", "hello", false)
	f.Add(uint64(1<<63), int64(-1), "stderr", "a\xffb", true)
	f.Add(uint64(0), int64(0), "", "\x00<>&\u2028\"\\", false)
	f.Fuzz(func(t *testing.T, seq uint64, tm int64, stream, line string, partial bool) {
		e := Entry{Seq: seq, Time: tm, Stream: stream, Line: line, Partial: partial}
		b := e.AppendJSON(nil)
		require.Equal(t, string(referenceJSON(t, e)), string(b))

		var fast, slow Entry
		require.NoError(t, decodeEntry(b, &fast))
		require.NoError(t, slow.decodeSlow(b))
		require.Equal(t, slow, fast)
		if utf8.ValidString(stream) {
			require.Equal(t, e, fast, "round trip")
		}
	})
}

// FuzzDecodeEntry holds the fast decoder to encoding/json for any input:
// both fail, or both give the same entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":2,"stream":"stdout","line":"a\u00e9\n","partial":true}`))
	f.Add([]byte(`{"seq":1,"time":-2,"stream":"stderr","line_b64":"/w=="}`))
	f.Add([]byte(`{"seq":1,"time":2,"stream":"stdout","line":"\ud83c\udf89"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow, in Entry
		errFast := decodeEntry(b, &fast)
		errSlow := slow.decodeSlow(b)
		errIn := DecodeEntryIn(string(b), &in)
		if errSlow != nil {
			require.Error(t, errFast)
			require.Error(t, errIn)
			return
		}
		require.NoError(t, errFast)
		require.Equal(t, slow, fast)
		require.NoError(t, errIn)
		if in.Raw != "" {
			require.Equal(t, string(b), in.Raw, "Raw is the record decoded")
			in.Raw = ""
		}
		require.Equal(t, slow, in)
	})
}

// TestRecordAppendJSONDoesNotAllocate: both forms write into dst alone,
// a line that goes base64 included.
func TestRecordAppendJSONDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 1024)
	file := Record{Seq: 1, Time: 2, Stream: Stdout, Line: "a\xffb <&> \u2028", Partial: true}
	api := Record{Plugin: "abc", Name: "p", Seq: 1, Time: 2, Stream: Stdout, Line: "x\n", LineB64: "/w==", Skipped: 3}
	assert.Zero(t, testing.AllocsPerRun(100, func() { buf = file.AppendJSON(buf[:0], FileForm) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { buf = api.AppendJSON(buf[:0], APIForm) }))
	assert.Equal(t, `{"seq":1,"time":2,"stream":"stdout","line_b64":"Yf9iIDwmPiDigKg=","partial":true}`, string(file.AppendJSON(nil, FileForm)))
	assert.Equal(t, `{"plugin":"abc","name":"p","seq":1,"time":2,"stream":"stdout","line":"x\n","line_b64":"/w==","skipped":3}`, string(api.AppendJSON(nil, APIForm)))
}

// apiLine mirrors api/types.LogLine, which imports this package.
type apiLine struct {
	Plugin  string `json:"plugin"`
	Name    string `json:"name"`
	Seq     uint64 `json:"seq,omitempty"`
	Time    int64  `json:"time,omitempty"`
	Stream  string `json:"stream,omitempty"`
	Line    string `json:"line,omitempty"`
	LineB64 string `json:"line_b64,omitempty"`
	Partial bool   `json:"partial,omitempty"`
	Skipped uint64 `json:"skipped,omitempty"`
}

// checkAPIDecode holds DecodeAPIRecord to encoding/json for b: what it
// accepts, encoding/json decodes to the same line, with r reused from a
// line before (prev).
func checkAPIDecode(t *testing.T, b []byte, prev Record) (accepted bool) {
	r := prev
	if !DecodeAPIRecord(b, &r) {
		return false
	}
	var want apiLine
	require.NoError(t, json.Unmarshal(b, &want), "%q", b)
	require.Equal(t, want, apiLine(r), "%q", b)
	return true
}

// FuzzDecodeAPIRecord: every line Record.AppendJSON writes in APIForm
// takes the fast path, and the fast path agrees with encoding/json on any
// input it accepts.
func FuzzDecodeAPIRecord(f *testing.F) {
	f.Add("abc", "p", uint64(1), int64(2), "stdout", "hello", "", false, uint64(0), []byte(`{"plugin":"abc","name":"p"}`))
	f.Add("a\"b", "", uint64(0), int64(-1), "", "a\xffb\n", "/w==", true, uint64(3), []byte(`{"plugin":"a\"b","name":"a\"b"}`))
	f.Add("abc", "p", uint64(1), int64(2), "", "", "", false, uint64(0), []byte(`{"error":"x"}`))
	f.Fuzz(func(t *testing.T, plugin, name string, seq uint64, tm int64, stream, line, b64 string, partial bool, skipped uint64, raw []byte) {
		r := Record{Plugin: plugin, Name: name, Seq: seq, Time: tm, Stream: stream, Line: line, LineB64: b64, Partial: partial, Skipped: skipped}
		b := r.AppendJSON(nil, APIForm)
		require.True(t, checkAPIDecode(t, b, Record{}), "%q", b)
		require.True(t, checkAPIDecode(t, b, Record{Plugin: plugin, Name: name}), "%q", b)
		require.True(t, checkAPIDecode(t, b, Record{Plugin: "x" + plugin, Name: name + "\""}), "%q", b)
		checkAPIDecode(t, raw, Record{})
		checkAPIDecode(t, raw, Record{Plugin: plugin, Name: name})
	})
}

// TestDecodeEntryArenaKeepsLines: lines decoded into an arena stay as
// they were while later ones fill it and the next, and decode as
// decodeEntry does, escaped, long and invalid lines included.
func TestDecodeEntryArenaKeepsLines(t *testing.T) {
	var arena []byte
	var got, want []Entry
	for i := range 3000 {
		line := fmt.Sprintf("line %d %s", i, strings.Repeat("y", i%300))
		switch i % 7 {
		case 1:
			line += "\t\"esc\""
		case 2:
			line += "\xff"
		case 3:
			line = strings.Repeat("z", lineArenaSize)
		}
		rec := Entry{Seq: uint64(i + 1), Time: int64(i), Stream: Stderr, Line: line}.AppendJSON(nil)
		var e, w Entry
		require.NoError(t, decodeEntryArena(rec, &e, &arena))
		require.NoError(t, decodeEntry(rec, &w))
		w.Raw = string(rec) // decodeEntryArena keeps the record too
		got, want = append(got, e), append(want, w)
		clear(rec) // the arena's copies are its own
	}
	require.Equal(t, want, got)
}

// TestAppendAPIRawIsTheEncodedLine: for every record a monitor writes, the
// API's line spliced from the record (AppendAPIRaw) is byte for byte the
// one encoded from the decoded entry: escapes, control characters, invalid
// UTF-8 (line_b64), partial pieces and empty lines included.
func TestAppendAPIRawIsTheEncodedLine(t *testing.T) {
	lines := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\x00nul", "é and 日本", "\xff\xfe bad", "<html>&", strings.Repeat("x", 5000)}
	head := AppendAPIHead(nil, "0123abcd", "vol:latest")
	for i, line := range lines {
		for _, partial := range []bool{false, true} {
			for _, stream := range []string{Stdout, Stderr} {
				rec := Entry{Seq: uint64(i + 1), Time: 1714979395000000000 + int64(i), Stream: stream, Line: line, Partial: partial}.AppendJSON(nil)
				var e Entry
				require.NoError(t, DecodeEntryIn(string(rec), &e))
				require.Equal(t, string(rec), e.Raw)

				want := Record{Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial}
				if utf8.ValidString(e.Line) {
					want.Line = e.Line
				} else {
					want.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
				}
				assert.Equal(t, string(want.AppendAPIBody(slices.Clone(head))), string(AppendAPIRaw(slices.Clone(head), e.Raw)), "line %q partial %v", line, partial)
			}
		}
	}
}
