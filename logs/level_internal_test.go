package logs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceLineLevel is LineLevel with encoding/json reading JSON lines.
func referenceLineLevel(line string) (logrus.Level, bool) {
	if len(line) == 0 || line[0] != '{' || !json.Valid([]byte(line)) {
		return logfmtLevel(line)
	}
	var members map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &members) != nil {
		return logfmtLevel(line)
	}
	for _, key := range []string{"level", "lvl"} {
		var name string
		if raw := members[key]; len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &name) == nil {
			if lvl, ok := levelByName(name); ok {
				return lvl, true
			}
		}
	}
	return 0, false
}

func TestLineLevelJSONMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		`{}`, `{ }`, `{"level":"warn"}`, ` {"level":"warn"}`, `{"level":"warn"} `, `{"level":"warn"}x`,
		`{"level":"warn","level":"debug"}`, `{"level":"warn","level":null}`, `{"level":"nope","lvl":"error"}`,
		`{"le\u0076el":"w\u0061rn"}`, `{"Level":"warn"}`, `{"level":"warn",}`, `{"level" "warn"}`,
		`{"a":[1,2,{"level":"debug"}],"lvl":"info"}`, `{"a":-0.5e+10,"b":true,"c":false,"d":null,"level":"err"}`,
		`{"a":01,"level":"warn"}`, `{"a":1.,"level":"warn"}`, `{"a":.5,"level":"warn"}`, `{"a":tru,"level":"warn"}`,
		`{"a":"\x","level":"warn"}`, "{\"a\":\"\xff\",\"level\":\"warn\"}", "{\"a\":\"\t\",\"level\":\"warn\"}",
		`{"a":"\u12g4","level":"warn"}`, `{"a":[],"b":{},"level":"fatal"}`, `{"level":"warn"`, `{"level":"warn" level=error`,
		`{"a":[` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `],"level":"warn"}`,
		`{"a":` + strings.Repeat("[", maxJSONDepth-2) + strings.Repeat("]", maxJSONDepth-2) + `,"level":"warn"}`,
	}
	for _, line := range tests {
		t.Run(line[:min(len(line), 40)], func(t *testing.T) {
			wantLvl, wantOK := referenceLineLevel(line)
			gotLvl, gotOK := LineLevel(line)
			require.Equal(t, wantOK, gotOK)
			assert.Equal(t, wantLvl, gotLvl)
		})
	}
}

func FuzzLineLevelJSON(f *testing.F) {
	f.Add(`{"time":"x","level":"warn","msg":"level=debug"}`)
	f.Add(`{"a":[1,{"b":null}],"lvl":"ERR"}`)
	f.Add(`{"level":"w\u0061rn"} `)
	f.Add(`level=info msg="x"`)
	f.Fuzz(func(t *testing.T, line string) {
		wantLvl, wantOK := referenceLineLevel(line)
		gotLvl, gotOK := LineLevel(line)
		require.Equal(t, wantOK, gotOK)
		require.Equal(t, wantLvl, gotLvl)
	})
}
