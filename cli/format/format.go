// Package format renders the CLI's --format output as the docker CLI does:
// Go templates with docker's functions (json, join, split, upper, lower,
// title, pad, truncate, from docker/cli's templates package), "table
// TEMPLATE" for aligned columns under a header line, "table" alone for the
// command's default columns, and "json" for one JSON object a line. A
// template may use an object's JSON field names as well as its Go ones:
// when a field is not in the Go value, the template is run again on the
// object's JSON, as docker's inspect does (so `{{.Id}}` works beside
// `{{.ID}}`).
//
// It follows docker/cli's cli/command/formatter and cli/command/inspect
// rather than importing them: those bring docker's API client, containerd
// and image-spec packages (73 packages, 1.3 MB) into the client binary,
// whose start-up time matters. Only the template functions are docker's
// own package, which needs nothing beyond the standard library.
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"
	"text/tabwriter"
	"text/template"
	"text/template/parse"

	"github.com/docker/cli/templates"
)

// Format keys, as docker's.
const (
	TableKey = "table"
	JSONKey  = "json"
	// JSONTemplate is what --format json stands for.
	JSONTemplate = "{{json .}}"
)

// Template is a parsed --format value. It is safe for use by one goroutine
// at a time.
type Template struct {
	tmpl   *template.Template
	strict *template.Template // tmpl failing on a missing key, for JSON; made at first use
	table  bool
}

// Parse parses format as a list command's --format (docker's formatter):
// "json" is JSONTemplate, "table TEMPLATE" is a table of TEMPLATE's columns,
// and `\t` and `\n` written as two characters are a tab and a newline.
// The caller replaces "" and "table" with its default first.
func Parse(format string) (*Template, error) {
	t := &Template{}
	s := format
	switch {
	case s == JSONKey:
		s = JSONTemplate
	case strings.HasPrefix(s, TableKey):
		t.table = true
		s = strings.TrimPrefix(s, TableKey)
	}
	if s != JSONTemplate {
		s = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(strings.Trim(s, " "))
	}
	return t, t.parse(s)
}

// ParseInspect parses format as an inspect or events --format: the
// template as written (docker expands no `\t` there), "json" being
// JSONTemplate.
func ParseInspect(format string) (*Template, error) {
	if format == JSONKey {
		format = JSONTemplate
	}
	t := &Template{}
	return t, t.parse(format)
}

func (t *Template) parse(s string) error {
	tmpl, err := templates.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid --format template: %w", err)
	}
	t.tmpl = tmpl
	return nil
}

// IsTable reports whether the format was "table …".
func (t *Template) IsTable() bool { return t.table }

// Fallback is a value whose templates fall back to another object's JSON
// beside its own: an ls row, to its plugin's inspect fields.
type Fallback interface {
	FormatFallback() any
}

// Execute writes v through the template, and a newline. When the template
// names a field v's Go type lacks, it is run on v's JSON instead (decoded
// with numbers kept as written; a key missing there is an error), so that
// JSON field names work too, as docker's inspect does. For a Fallback v,
// that JSON is its FormatFallback's with v's own fields over it, so that
// a template may mix the two.
func (t *Template) Execute(w io.Writer, v any) error {
	var b bytes.Buffer
	if err := t.tmpl.Execute(&b, v); err != nil {
		b.Reset()
		if err := t.executeJSON(&b, v); err != nil {
			return err
		}
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func (t *Template) executeJSON(w io.Writer, v any) error {
	generic, err := decodeJSON(v)
	if err != nil {
		return fmt.Errorf("format: %w", err)
	}
	if f, ok := v.(Fallback); ok {
		under, err := decodeJSON(f.FormatFallback())
		if err != nil {
			return fmt.Errorf("format: %w", err)
		}
		over, ok1 := generic.(map[string]any)
		merged, ok2 := under.(map[string]any)
		if ok1 && ok2 {
			maps.Copy(merged, over)
		}
		generic = under
	}
	if t.strict == nil {
		strict, err := t.tmpl.Clone()
		if err != nil {
			return fmt.Errorf("format: %w", err)
		}
		t.strict = strict.Option("missingkey=error")
	}
	if err := t.strict.Execute(w, generic); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	return nil
}

// decodeJSON is v's JSON (v itself for a json.RawMessage) as maps, slices
// and json.Numbers, as docker's inspect decodes it for templates.
func decodeJSON(v any) (any, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return generic, nil
}

// Header names the columns of a table: field name to column title. A
// field left out is false in {{if}}, as in docker (so `{{.Name}}{{if
// .Current}} *{{end}}` heads its column "NAME"); printed, it is titled by
// its name in capitals (docker prints "<no value>").
type Header map[string]string

// Rows writes rows as docker's list commands do: format "" or "table" is
// def (a "table …" format); a table gets a header line, the template run
// on header with docker's header functions, and aligned columns; any
// other format prints each row as it comes out.
func Rows[T any](out io.Writer, format, def string, header Header, rows []T) error {
	t, err := Parse(Default(format, def))
	if err != nil {
		return err
	}
	tw := t.NewTable(out, header)
	for _, r := range rows {
		if err := t.Execute(tw, r); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// Default is format, or def when format is "" or "table" alone.
func Default(format, def string) string {
	if format == "" || format == TableKey {
		return def
	}
	return format
}

// Table is where rows go: aligned under a header line for a table format,
// as they are otherwise. Flush ends it.
type Table struct {
	w  io.Writer
	tw *tabwriter.Writer
}

// NewTable starts the output of rows to out: for a table format it writes
// the header line (header run through the template with docker's header
// functions, which print their argument as it is).
func (t *Template) NewTable(out io.Writer, header Header) *Table {
	if !t.table {
		return &Table{w: out}
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	titles := Header{}
	for _, name := range printedFields(t.tmpl.Root) {
		titles[name] = strings.ToUpper(name)
	}
	maps.Copy(titles, header)
	h, err := t.tmpl.Clone()
	if err == nil {
		// As docker: a header that cannot be made is left out.
		_ = h.Funcs(templates.HeaderFunctions).Execute(tw, titles)
	}
	_, _ = tw.Write([]byte{'\n'})
	return &Table{w: tw, tw: tw}
}

// printedFields lists the fields of the dot (`{{.Name}}`, not
// `{{.Config.Description}}`) that the template prints, outside the
// conditions of if, with and range.
func printedFields(n parse.Node) []string {
	var out []string
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			out = append(out, printedFields(c)...)
		}
	case *parse.ActionNode:
		for _, c := range n.Pipe.Cmds {
			for _, a := range c.Args {
				if f, ok := a.(*parse.FieldNode); ok && len(f.Ident) == 1 {
					out = append(out, f.Ident[0])
				}
			}
		}
	case *parse.IfNode:
		out = append(printedFields(n.List), printedFields(n.ElseList)...)
	case *parse.WithNode:
		out = append(printedFields(n.List), printedFields(n.ElseList)...)
	case *parse.RangeNode:
		out = append(printedFields(n.List), printedFields(n.ElseList)...)
	}
	return out
}

// Write writes formatted rows (Template.Execute's output).
func (t *Table) Write(p []byte) (int, error) { return t.w.Write(p) }

// Flush writes what a table holds back to align its columns.
func (t *Table) Flush() error {
	if t.tw == nil {
		return nil
	}
	return t.tw.Flush()
}

// Inspect writes objects as docker's inspect does: with format "" a JSON
// array indented by four spaces, with "json" the array on one line, and
// with a template one line per object (Template.Execute: JSON field names
// work too). A json.RawMessage object is written as it is.
func Inspect(out io.Writer, format string, objects []any) error {
	switch format {
	case "", JSONKey:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // as docker's, which writes the daemon's JSON as it came
		if format == "" {
			enc.SetIndent("", "    ")
		}
		if objects == nil {
			objects = []any{}
		}
		if err := enc.Encode(objects); err != nil {
			return fmt.Errorf("format: %w", err)
		}
		_, err := out.Write(b.Bytes())
		return err
	}
	t, err := ParseInspect(format)
	if err != nil {
		return err
	}
	for _, o := range objects {
		if err := t.Execute(out, o); err != nil {
			return err
		}
	}
	return nil
}
