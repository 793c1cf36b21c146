package logs_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

func TestEntryJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		entry    logs.Entry
		wantJSON string
	}{
		{
			name:     "valid UTF-8",
			entry:    logs.Entry{Seq: 1, Time: 1700000000123456789, Stream: logs.Stdout, Line: `héllo "wörld" <tab>	\`},
			wantJSON: `{"seq":1,"time":1700000000123456789,"stream":"stdout","line":"héllo \"wörld\" \u003ctab\u003e\t\\"}`,
		},
		{
			name:     "invalid UTF-8 is stored base64, byte exact",
			entry:    logs.Entry{Seq: 2, Time: 5, Stream: logs.Stderr, Line: "a\xffb\xc3\x28\x00z"},
			wantJSON: `{"seq":2,"time":5,"stream":"stderr","line_b64":"Yf9iwygAeg=="}`,
		},
		{
			name:     "empty line",
			entry:    logs.Entry{Seq: 3, Time: 6, Stream: logs.Stdout, Line: ""},
			wantJSON: `{"seq":3,"time":6,"stream":"stdout"}`,
		},
		{
			name:     "partial",
			entry:    logs.Entry{Seq: 4, Time: 7, Stream: logs.Stdout, Line: "first part of a long line", Partial: true},
			wantJSON: `{"seq":4,"time":7,"stream":"stdout","line":"first part of a long line","partial":true}`,
		},
		{
			name:     "partial, invalid UTF-8 cut mid-rune",
			entry:    logs.Entry{Seq: 5, Time: 8, Stream: logs.Stderr, Line: "ab\xe2\x82", Partial: true},
			wantJSON: `{"seq":5,"time":8,"stream":"stderr","line_b64":"YWLigg==","partial":true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.entry)
			require.NoError(t, err)
			assert.JSONEq(t, tt.wantJSON, string(b))

			var back logs.Entry
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, tt.entry, back)
			assert.Equal(t, []byte(tt.entry.Line), []byte(back.Line), "byte exact")
		})
	}
}

func TestEntryUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantMsg string
	}{
		{name: "bad base64", input: `{"seq":9,"time":1,"stream":"stdout","line_b64":"!!!"}`, wantMsg: "log entry 9: line_b64"},
		{name: "not an object", input: `[1]`, wantMsg: "cannot unmarshal"},
		{name: "wrong field type", input: `{"seq":"x"}`, wantMsg: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e logs.Entry
			err := json.Unmarshal([]byte(tt.input), &e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

// TestEntryUnmarshalResets checks that decoding into a used Entry leaves
// nothing of the old value behind.
func TestEntryUnmarshalResets(t *testing.T) {
	e := logs.Entry{Seq: 1, Time: 2, Stream: logs.Stderr, Line: "old", Partial: true}
	require.NoError(t, json.Unmarshal([]byte(`{"seq":3,"time":4,"stream":"stdout"}`), &e))
	assert.Equal(t, logs.Entry{Seq: 3, Time: 4, Stream: logs.Stdout}, e)
}
