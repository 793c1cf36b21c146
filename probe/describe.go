package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteCatalog writes every interface and its methods, one line each. When
// implements is non-nil (a Plugin.Activate answer) only those interfaces are
// listed, and names the catalog does not know are reported.
func WriteCatalog(w io.Writer, implements []string) error {
	ifaces := Catalog()
	var unknown []string
	if implements != nil {
		ifaces = nil
		for _, impl := range implements {
			if i, ok := InterfaceByImplements(impl); ok {
				ifaces = append(ifaces, i)
			} else {
				unknown = append(unknown, impl)
			}
		}
		fmt.Fprintf(w, "Implements: %s\n", strings.Join(implements, ", "))
		if len(implements) == 0 {
			fmt.Fprintln(w, "(nothing: Plugin.Activate listed no interface)")
		}
		for _, u := range unknown {
			fmt.Fprintf(w, "(%q is not an interface plugdbg knows)\n", u)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer fmt.Fprintln(w, "\n[optional]: dockerd treats a 404 as \"not implemented\".")
	for n, i := range ifaces {
		if n > 0 || implements != nil {
			fmt.Fprintln(tw)
		}
		head := i.Name
		if i.Type != "" {
			head += " (" + i.Type + ")"
		}
		fmt.Fprintf(tw, "%s: %s\n", head, i.Doc)
		for _, m := range i.Methods {
			note := ""
			if m.Optional {
				note = " [optional]"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\n", m.Name, m.Doc, note)
		}
	}
	return tw.Flush()
}

// Describe writes a method's request and response shapes, one dotted field
// path a line (the paths KEY=VALUE arguments take), and its examples.
func Describe(w io.Writer, m *Method) error {
	iface := ""
	for _, i := range Catalog() {
		if i.Name == m.Interface && i.Type != "" {
			iface = " (" + i.Type + ")"
		}
	}
	fmt.Fprintf(w, "%s%s\n  %s\n", m.Name, iface, m.Doc)
	if m.Optional {
		fmt.Fprintln(w, "  Optional: dockerd treats a 404 as \"not implemented\".")
	}

	fmt.Fprintf(w, "\nRequest: POST /%s", m.Name)
	switch {
	case m.Request == nil:
		fmt.Fprintln(w, " with an empty body")
	case len(m.Request.Fields) == 0:
		fmt.Fprintln(w, " with {}")
	default:
		fmt.Fprintln(w)
		writeFields(w, m.Request)
	}

	fmt.Fprint(w, "\nResponse")
	switch {
	case m.Stream:
		fmt.Fprintln(w, ": a stream of [uint32 big-endian length][protobuf LogEntry] frames")
	case m.Response == nil || m.ErrField == "" && len(m.Response.Fields) == 0:
		fmt.Fprintln(w, ": ignored by dockerd (only the status counts)")
	default:
		if m.ErrField != "" {
			fmt.Fprintf(w, " (HTTP 200; errors as HTTP 500 with {\"Err\": ...}, or %s on a 200)", m.ErrField)
		}
		fmt.Fprintln(w, ":")
		writeFields(w, m.Response)
	}

	if m.ExampleRequest != "" {
		fmt.Fprintln(w, "\nExample request:")
		writeIndented(w, m.ExampleRequest)
	}
	if m.ExampleResponse != "" {
		fmt.Fprintln(w, "\nExample response:")
		writeIndented(w, m.ExampleResponse)
	}
	if m.Request != nil {
		fmt.Fprintf(w, "\nUsage:\n  plugdbg probe PLUGIN %s%s\n", m.Name, usageFields(m.Request))
	} else {
		fmt.Fprintf(w, "\nUsage:\n  plugdbg probe PLUGIN %s\n", m.Name)
	}
	return nil
}

func writeIndented(w io.Writer, js string) {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(js), "  ", "  "); err != nil {
		buf.Reset()
		buf.WriteString(js)
	}
	fmt.Fprintf(w, "  %s\n", buf.String())
}

// usageFields suggests KEY=VALUE arguments for the request's required
// top-level fields.
func usageFields(s *Schema) string {
	var b strings.Builder
	for _, f := range s.Fields {
		if f.Required && f.Schema.Kind != KindObject {
			fmt.Fprintf(&b, " %s=...", f.Name)
		}
	}
	if b.Len() == 0 && len(s.Fields) > 0 {
		return " [BODY | KEY=VALUE...]"
	}
	return b.String() + " [KEY=VALUE...]"
}

func writeFields(w io.Writer, s *Schema) {
	var buf bytes.Buffer
	defer func() { // tabwriter pads the last column of lines without notes
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			io.WriteString(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
		}
	}()
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	var walk func(s *Schema, prefix string)
	walk = func(s *Schema, prefix string) {
		for _, f := range s.Fields {
			path := join(prefix, f.Name)
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", path, typeName(f.Schema), notes(f))
			switch inner := f.Schema; {
			case inner.Kind == KindObject:
				walk(inner, path)
			case inner.Kind == KindArray && inner.Elem.Kind == KindObject:
				walk(inner.Elem, path+"[]")
			case inner.Kind == KindMap && inner.Elem.Kind == KindObject:
				walk(inner.Elem, path+".KEY")
			}
		}
	}
	walk(s, "")
	tw.Flush()
}

func typeName(s *Schema) string {
	switch s.Kind {
	case KindArray:
		return "[]" + typeName(s.Elem)
	case KindMap:
		return "map[string]" + typeName(s.Elem)
	}
	return string(s.Kind)
}

func notes(f *Field) string {
	var n []string
	if f.Required {
		n = append(n, "required")
	}
	s := f.Schema
	for s.Kind == KindArray || s.Kind == KindMap {
		s = s.Elem
	}
	if d, ok := formatDoc[s.Format]; ok {
		n = append(n, d)
	}
	if len(s.Enum) > 0 {
		n = append(n, "one of "+quoteAll(s.Enum))
	}
	if f.Doc != "" {
		n = append(n, f.Doc)
	}
	return strings.Join(n, "; ")
}
