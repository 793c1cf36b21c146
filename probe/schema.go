package probe

import (
	"fmt"
	"reflect"
	"strings"
)

// Kind is the JSON type a schema node accepts.
type Kind string

// The kinds of schema nodes.
const (
	KindObject  Kind = "object"  // fixed fields
	KindMap     Kind = "map"     // object with arbitrary string keys, values of Elem
	KindArray   Kind = "array"   // values of Elem
	KindString  Kind = "string"  //
	KindInteger Kind = "integer" //
	KindNumber  Kind = "number"  //
	KindBool    Kind = "boolean" //
	KindAny     Kind = "any"     // any JSON value
)

// Format narrows what a string may hold.
type Format string

// The string formats validation knows.
const (
	FormatAbsPath Format = "abspath" // an absolute path
	FormatCIDR    Format = "cidr"    // address/prefix, e.g. 10.1.0.0/16 or 10.1.0.2/16
	FormatIP      Format = "ip"      // a bare IP address
	FormatTime    Format = "rfc3339" // RFC 3339 time, as dockerd decodes into time.Time
	FormatBase64  Format = "base64"  // []byte in Go's encoding
)

var formatDoc = map[Format]string{
	FormatAbsPath: "absolute path",
	FormatCIDR:    "CIDR",
	FormatIP:      "IP address",
	FormatTime:    "RFC 3339 time",
	FormatBase64:  "base64",
}

// Schema describes one JSON value of a request or a response.
type Schema struct {
	Kind     Kind
	Fields   []*Field // KindObject, in declaration order
	Elem     *Schema  // KindMap and KindArray
	Format   Format   // KindString
	Enum     []string // KindString: the only values dockerd accepts
	Nullable bool     // null is a meaningful value (a Go pointer, slice or map)
}

// Field is one fixed key of an object.
type Field struct {
	Name     string // the JSON key
	Schema   *Schema
	Required bool   // dockerd relies on a non-empty value
	Doc      string // one line
}

// Field returns the field named name, matching case-insensitively as Go's
// encoding/json (and so dockerd) does; exact reports whether the case matched.
func (s *Schema) Field(name string) (f *Field, exact bool) {
	if s == nil {
		return nil, false
	}
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	for _, f := range s.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, false
		}
	}
	return nil, false
}

// TypeString is the type as the catalog prints it, e.g. "map[string]string".
func (s *Schema) TypeString() string {
	var t string
	switch s.Kind {
	case KindMap:
		t = "map[string]" + s.Elem.TypeString()
	case KindArray:
		t = "[]" + s.Elem.TypeString()
	default:
		t = string(s.Kind)
	}
	return t
}

// clone deep-copies s, so that annotating one method's schema leaves the
// others that share a Go type alone.
func (s *Schema) clone() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Elem = s.Elem.clone()
	c.Fields = make([]*Field, len(s.Fields))
	for i, f := range s.Fields {
		fc := *f
		fc.Schema = f.Schema.clone()
		c.Fields[i] = &fc
	}
	c.Enum = append([]string(nil), s.Enum...)
	return &c
}

// at returns the node at a dotted path of field names ("Volume.Mountpoint");
// "[]" steps into an array or map element ("Volumes[].Name"). It panics on a
// bad path: paths are written in the catalog table, not given by users.
func (s *Schema) at(path string) (*Field, *Schema) {
	cur := s
	var f *Field
	for _, seg := range strings.Split(path, ".") {
		name, elems := strings.CutSuffix(seg, "[]")
		f, _ = cur.Field(name)
		if f == nil {
			panic(fmt.Sprintf("probe catalog: no field %q in path %q", name, path))
		}
		cur = f.Schema
		if elems {
			cur = cur.Elem
		}
	}
	return f, cur
}

// schemaOf derives a schema from a Go type with encoding/json's rules:
// exported fields, json tag names, "-" skipped, []byte as base64.
func schemaOf(t reflect.Type) *Schema {
	return schemaOfSeen(t, map[reflect.Type]bool{})
}

// overrides maps Go types whose JSON form is not their struct shape.
var overrides = map[string]func() *Schema{
	// An x509 certificate travels as PEM bytes, so base64 in JSON.
	"authorization.PeerCertificate": func() *Schema { return &Schema{Kind: KindString, Format: FormatBase64} },
	"time.Time":                     func() *Schema { return &Schema{Kind: KindString, Format: FormatTime} },
}

func schemaOfSeen(t reflect.Type, seen map[reflect.Type]bool) *Schema {
	if mk, ok := overrides[t.String()]; ok {
		return mk()
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOfSeen(t.Elem(), seen)
		s.Nullable = true
		return s
	case reflect.Interface:
		return &Schema{Kind: KindAny, Nullable: true}
	case reflect.String:
		return &Schema{Kind: KindString}
	case reflect.Bool:
		return &Schema{Kind: KindBool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Schema{Kind: KindInteger}
	case reflect.Float32, reflect.Float64:
		return &Schema{Kind: KindNumber}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{Kind: KindString, Format: FormatBase64}
		}
		return &Schema{Kind: KindArray, Elem: schemaOfSeen(t.Elem(), seen), Nullable: true}
	case reflect.Map:
		return &Schema{Kind: KindMap, Elem: schemaOfSeen(t.Elem(), seen), Nullable: true}
	case reflect.Struct:
		if seen[t] {
			panic("probe catalog: recursive type " + t.String())
		}
		seen[t] = true
		defer delete(seen, t)
		s := &Schema{Kind: KindObject}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name := sf.Name
			if tag, ok := sf.Tag.Lookup("json"); ok {
				n, _, _ := strings.Cut(tag, ",")
				if n == "-" {
					continue
				}
				if n != "" {
					name = n
				}
			}
			s.Fields = append(s.Fields, &Field{Name: name, Schema: schemaOfSeen(sf.Type, seen)})
		}
		return s
	}
	panic("probe catalog: unsupported type " + t.String())
}
