package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// BuildBody returns the request body for m: base (JSON, or empty for none)
// with each assignment applied, compact and newline-terminated as dockerd's
// json.Encoder writes it. It returns nil (no body at all) when m takes none
// and nothing was given, and "{}\n" for a method that takes one.
//
// An assignment is KEY=VALUE or KEY:=JSON. KEY is a dotted path of request
// fields (matched case-insensitively, written with the canonical spelling),
// map keys ("Opts.size") and array indexes ("IPv4Data.0.Pool"). VALUE is
// converted to the field's type: strings stay strings, booleans and numbers
// are parsed, anything else is read as JSON. KEY:=JSON always reads JSON.
func BuildBody(m *Method, base []byte, assigns []string) ([]byte, error) {
	base = bytes.TrimSpace(base)
	if len(base) == 0 && len(assigns) == 0 {
		if m.EmptyBody() {
			return nil, nil
		}
		return []byte("{}\n"), nil
	}
	if m.EmptyBody() && len(assigns) > 0 {
		return nil, fmt.Errorf("%s takes no request body, so no KEY=VALUE fields", m.Name)
	}
	var root any = map[string]any{}
	if len(base) > 0 {
		dec := json.NewDecoder(bytes.NewReader(base))
		dec.UseNumber()
		if err := dec.Decode(&root); err != nil {
			return nil, fmt.Errorf("request body is not valid JSON: %w", err)
		}
		if dec.More() {
			return nil, fmt.Errorf("request body is not valid JSON: trailing data after the first value")
		}
	}
	for _, a := range assigns {
		var err error
		if root, err = assign(m, root, a); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return buf.Bytes(), nil
}

func assign(m *Method, root any, a string) (any, error) {
	key, val, ok := strings.Cut(a, "=")
	raw := false
	if ok && strings.HasSuffix(key, ":") {
		key, raw = strings.TrimSuffix(key, ":"), true
	}
	if !ok || key == "" {
		return nil, fmt.Errorf("field %q: want KEY=VALUE or KEY:=JSON", a)
	}
	segs := strings.Split(key, ".")
	var set func(cur any, s *Schema, i int, path string) (any, error)
	set = func(cur any, s *Schema, i int, path string) (any, error) {
		if i == len(segs) {
			return convert(s, val, raw, path)
		}
		seg := segs[i]
		switch {
		case s != nil && s.Kind == KindArray:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("field %s: %s is an array, %q is not an index", key, path, seg)
			}
			arr, _ := cur.([]any)
			if n > len(arr) {
				return nil, fmt.Errorf("field %s: index %d skips elements (the array has %d)", key, n, len(arr))
			}
			if n == len(arr) {
				arr = append(arr, nil)
			}
			v, err := set(arr[n], s.Elem, i+1, fmt.Sprintf("%s[%d]", path, n))
			arr[n] = v
			return arr, err
		case s != nil && s.Kind == KindObject:
			f, _ := s.Field(seg)
			if f == nil {
				return nil, fmt.Errorf("field %s: %s has no field %q (fields: %s)", key, orRequest(m, path), seg, fieldNames(s))
			}
			obj := objectOf(cur)
			for k := range obj { // replace a differently-cased key given in the base body
				if k != f.Name && strings.EqualFold(k, f.Name) {
					obj[f.Name] = obj[k]
					delete(obj, k)
				}
			}
			v, err := set(obj[f.Name], f.Schema, i+1, join(path, f.Name))
			obj[f.Name] = v
			return obj, err
		case s == nil || s.Kind == KindMap || s.Kind == KindAny:
			obj := objectOf(cur)
			var elem *Schema
			switch {
			case s == nil:
			case s.Kind == KindAny:
				elem = s // JSON-or-word all the way down
			default:
				elem = s.Elem
			}
			v, err := set(obj[seg], elem, i+1, join(path, seg))
			obj[seg] = v
			return obj, err
		default:
			return nil, fmt.Errorf("field %s: %s is a %s, it has no field %q", key, path, s.TypeString(), seg)
		}
	}
	return set(root, m.Request, 0, "")
}

func orRequest(m *Method, path string) string {
	if path == "" {
		return m.Name + "'s request"
	}
	return path
}

func objectOf(v any) map[string]any {
	if obj, ok := v.(map[string]any); ok {
		return obj
	}
	return map[string]any{}
}

func fieldNames(s *Schema) string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// convert turns a flag's text into a JSON value of s's kind (s is nil for a
// key the schema does not know, such as a map key of any type).
func convert(s *Schema, val string, raw bool, path string) (any, error) {
	parseJSON := func() (any, error) {
		var v any
		dec := json.NewDecoder(strings.NewReader(val))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("field %s: %q is not valid JSON: %w", path, val, err)
		}
		return v, nil
	}
	if raw {
		return parseJSON()
	}
	kind := KindString
	if s != nil {
		kind = s.Kind
	}
	switch kind {
	case KindString:
		return val, nil
	case KindBool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return nil, fmt.Errorf("field %s: %q is not a boolean", path, val)
		}
		return b, nil
	case KindInteger:
		if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			return nil, fmt.Errorf("field %s: %q is not an integer", path, val)
		}
		return json.Number(val), nil
	case KindNumber:
		if _, err := strconv.ParseFloat(val, 64); err != nil {
			return nil, fmt.Errorf("field %s: %q is not a number", path, val)
		}
		return json.Number(val), nil
	case KindAny:
		if v, err := parseJSON(); err == nil {
			return v, nil
		}
		return val, nil // a bare word is a string
	default:
		return parseJSON()
	}
}
