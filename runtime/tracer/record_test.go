package tracer

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMayHaveErr checks the allocation-free scan against the decoder it
// stands in front of: it may say yes wrongly, never no.
func TestMayHaveErr(t *testing.T) {
	tests := []struct {
		body string
		err  bool
	}{
		{`{"Err":""}`, false},
		{`{"Err":"x"}`, true},
		{` { "err" : "x" } `, true},
		{`{"Error":"pool gone"}`, true},
		{`{"Volumes":[{"Name":"Err","Err":"x"}],"Err":""}`, false},
		{`{"Volumes":[],"Err":"","Capabilities":{"Scope":"local"}}`, false},
		{`{"Mountpoint":"/a\"Err\":\"x","Err":""}`, false},
		{`{"E\u0072r":"x"}`, true},
		{`{"Err":null}`, false},
		{`{"Err":"x","Err":""}`, false},
		{`{"Implements":["VolumeDriver"]}`, false},
		{`[{"Err":"x"}]`, false},
		{`not json`, false},
		{``, false},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			want := ErrField([]byte(tt.body)) != ""
			assert.Equal(t, tt.err, want, "the decoder's answer")
			if want {
				assert.True(t, mayHaveErr([]byte(tt.body)), "the scan must not miss it")
			}
			assert.Equal(t, want, hasErr([]byte(tt.body)))
		})
	}
}
