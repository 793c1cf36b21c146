package format

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inspected has Go field names that differ from its JSON ones, as
// moby's plugin.Plugin (ID, json "Id").
type inspected struct {
	ID     string `json:"Id"`
	Name   string
	Config struct {
		Description string
	}
	Size int64 `json:"size"`
}

type row struct {
	Enabled bool
	ID      string
	Name    string
}

var header = Header{"ID": "ID", "Name": "NAME", "Enabled": "ENABLED"}

const defTable = "table {{.ID}}\t{{.Name}}\t{{.Enabled}}"

func TestRows(t *testing.T) {
	rows := []row{{ID: "4c2f0f5d6a01", Name: "vol:latest", Enabled: true}, {ID: "9f00", Name: "a-much-longer-name:v1"}}
	tests := []struct {
		name   string
		format string
		rows   []row
		want   string
	}{
		{
			name: "default table",
			want: "" +
				"ID             NAME                    ENABLED\n" +
				"4c2f0f5d6a01   vol:latest              true\n" +
				"9f00           a-much-longer-name:v1   false\n",
		},
		{
			name:   "table alone is the default table",
			format: "table",
			want: "" +
				"ID             NAME                    ENABLED\n" +
				"4c2f0f5d6a01   vol:latest              true\n" +
				"9f00           a-much-longer-name:v1   false\n",
		},
		{
			name:   `table with \t written as two characters (a shell's '…\t…')`,
			format: `table {{.Name}}\t{{.Enabled}}`,
			want: "" +
				"NAME                    ENABLED\n" +
				"vol:latest              true\n" +
				"a-much-longer-name:v1   false\n",
		},
		{
			name:   "empty table prints its header",
			rows:   []row{},
			format: `table {{.Name}}\t{{.Enabled}}`,
			want:   "NAME      ENABLED\n",
		},
		{
			name:   `\n expands too`,
			format: `{{.Name}}\n{{.ID}}`,
			want:   "vol:latest\n4c2f0f5d6a01\na-much-longer-name:v1\n9f00\n",
		},
		{
			name:   "json: one object a line",
			format: "json",
			want:   `{"Enabled":true,"ID":"4c2f0f5d6a01","Name":"vol:latest"}` + "\n" + `{"Enabled":false,"ID":"9f00","Name":"a-much-longer-name:v1"}` + "\n",
		},
		{
			name:   "{{json .}} is json",
			format: "{{json .}}",
			want:   `{"Enabled":true,"ID":"4c2f0f5d6a01","Name":"vol:latest"}` + "\n" + `{"Enabled":false,"ID":"9f00","Name":"a-much-longer-name:v1"}` + "\n",
		},
		{
			name:   "a template without table: no header, no alignment",
			format: "{{.Name}}\t{{.Enabled}}",
			want:   "vol:latest\ttrue\na-much-longer-name:v1\tfalse\n",
		},
		{
			name:   "docker's functions",
			format: `{{upper .Name}} {{truncate .ID 4}} {{pad .Name 1 1}}|`,
			rows:   rows[:1],
			want:   "VOL:LATEST 4c2f  vol:latest |\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.rows
			if in == nil {
				in = rows
			}
			var out bytes.Buffer
			require.NoError(t, Rows(&out, tt.format, defTable, header, in))
			assert.Equal(t, tt.want, out.String())
		})
	}
}

// TestRowsHeaderLeavesOut: a field the header does not name is false in
// {{if}}, so a mark after a name does not show in the header, as in
// docker's context ls; printed, it is titled by its name.
func TestRowsHeaderLeavesOut(t *testing.T) {
	type ctx struct {
		Name    string
		Current bool
	}
	var out bytes.Buffer
	require.NoError(t, Rows(&out, "", `table {{.Name}}{{if .Current}} *{{end}}\t{{.Name}}`, Header{"Name": "NAME"},
		[]ctx{{Name: "a"}, {Name: "lab", Current: true}}))
	assert.Equal(t, "NAME      NAME\na         a\nlab *     lab\n", out.String())
	out.Reset()
	require.NoError(t, Rows(&out, `table {{.Name}}\t{{.Current}}\t{{if .Current}}{{.Name}}{{end}}`, "", Header{"Name": "NAME"},
		[]ctx{{Name: "lab", Current: true}}))
	assert.Equal(t, "NAME      CURRENT   NAME\nlab       true      lab\n", out.String())
}

func TestRowsErrors(t *testing.T) {
	tests := []struct {
		name, format, want string
	}{
		{name: "unparsable", format: "{{.Name", want: "invalid --format template"},
		{name: "unparsable table", format: "table {{.Name", want: "invalid --format template"},
		{name: "unknown function", format: "{{nope .Name}}", want: "invalid --format template"},
		{name: "unknown field", format: "{{.Nope}}", want: `format: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Rows(&out, tt.format, defTable, header, []row{{Name: "a"}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out.String())
		})
	}
}

// TestExecuteRawJSONFallback: as docker's inspect, a template may name the
// JSON fields of the object where its Go type has other names.
func TestExecuteRawJSONFallback(t *testing.T) {
	v := inspected{ID: "abc", Name: "vol:latest", Size: 1 << 40}
	v.Config.Description = "a <volume> & more"
	tests := []struct {
		name, format, want, wantErr string
	}{
		{name: "Go names", format: "{{.ID}} {{.Name}}", want: "abc vol:latest\n"},
		{name: "JSON names", format: "{{.Id}} {{.Name}}", want: "abc vol:latest\n"},
		{name: "nested", format: "{{.Id}} {{.Config.Description}}", want: "abc a <volume> & more\n"},
		{name: "numbers as written", format: "{{.size}}", want: "1099511627776\n"},
		{name: "json of a part", format: "{{json .Config}}", want: `{"Description":"a <volume> & more"}` + "\n"},
		{name: "json", format: "json", want: `{"Id":"abc","Name":"vol:latest","Config":{"Description":"a <volume> & more"},"size":1099511627776}` + "\n"},
		{name: "in neither", format: "{{.Nope}}", wantErr: `map has no entry for key "Nope"`},
		{name: `\t stays as written in inspect, as docker's`, format: `{{.ID}}\t`, want: `abc\t` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseInspect(tt.format)
			require.NoError(t, err)
			var out bytes.Buffer
			err = tmpl.Execute(&out, v)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, out.String())
		})
	}
}

// listed is an ls row whose templates see its plugin's JSON too.
type listed struct {
	ID   string
	Name string
	p    inspected
}

func (l listed) FormatFallback() any { return l.p }

func TestExecuteFallbackMixes(t *testing.T) {
	l := listed{ID: "abc", Name: "row name", p: inspected{ID: "abcdef", Name: "plugin name", Size: 3}}
	for format, want := range map[string]string{
		"{{.ID}} {{.Name}}":         "abc row name\n",        // the row's
		"{{.Id}} {{.size}}":         "abcdef 3\n",            // the plugin's
		"{{.ID}} {{.Id}} {{.Name}}": "abc abcdef row name\n", // both: the row's fields win
		"{{json .}}":                `{"ID":"abc","Name":"row name"}` + "\n",
		"{{.Config.Description}}|":  "|\n",
	} {
		tmpl, err := Parse(format)
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, tmpl.Execute(&out, l), format)
		assert.Equal(t, want, out.String(), format)
	}
}

func TestInspect(t *testing.T) {
	a := inspected{ID: "a", Name: "x"}
	raw := json.RawMessage(`{"Name":"ctx","Endpoints":{"plugdbg":{"Host":"tcp://h:1"}}}`)
	tests := []struct {
		name    string
		format  string
		objects []any
		want    string
	}{
		{
			name: "indented array", objects: []any{a},
			want: "[\n    {\n        \"Id\": \"a\",\n        \"Name\": \"x\",\n        \"Config\": {\n            \"Description\": \"\"\n        },\n        \"size\": 0\n    }\n]\n",
		},
		{name: "nothing found", want: "[]\n"},
		{name: "json: the array on one line, as docker's", format: "json", objects: []any{a, raw},
			want: `[{"Id":"a","Name":"x","Config":{"Description":""},"size":0},{"Name":"ctx","Endpoints":{"plugdbg":{"Host":"tcp://h:1"}}}]` + "\n"},
		{name: "template, one line each", format: "{{.Id}}", objects: []any{a, inspected{ID: "b"}}, want: "a\nb\n"},
		{name: "raw JSON objects", format: "{{.Name}} {{.Endpoints.plugdbg.Host}}", objects: []any{raw}, want: "ctx tcp://h:1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, Inspect(&out, tt.format, tt.objects))
			assert.Equal(t, tt.want, out.String())
		})
	}
}
