package manager

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

func TestLogLineAppendJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		line LogLine
	}{
		{name: "plain", line: NewLogLine("abc", "p:latest", logs.Entry{Seq: 7, Time: 1700000000123456789, Stream: logs.Stdout, Line: "hello"})},
		{name: "escapes", line: NewLogLine("abc", "p:latest", logs.Entry{Seq: 1, Time: 2, Stream: logs.Stderr, Line: "a\"b\\c\t<&>\u2028\x01"})},
		{name: "invalid utf-8", line: NewLogLine("abc", "p", logs.Entry{Seq: 3, Time: 4, Stream: logs.Stdout, Line: "a\xffb"})},
		{name: "empty partial", line: NewLogLine("abc", "p", logs.Entry{Seq: 5, Time: 6, Stream: logs.Stdout, Partial: true})},
		{name: "marker", line: LogLine{Plugin: "abc", Name: "p", Skipped: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.line)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(tt.line.AppendJSON(nil)))
			var back LogLine
			require.NoError(t, json.Unmarshal(tt.line.AppendJSON(nil), &back))
			assert.Equal(t, tt.line, back)
		})
	}
	assert.Equal(t, "a\xffb", tests[2].line.Text(), "Text restores the raw bytes")
}
