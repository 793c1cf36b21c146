package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Problem is one way an answer departs from what dockerd expects.
type Problem struct {
	Path string // dotted path of the value, "" for the whole answer
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Validate checks a 200 answer of m against its schema: JSON that decodes,
// known keys (exactly spelt), required fields, JSON types, formats (absolute
// paths, CIDRs, IPs, RFC 3339 times), enumerations, and the method's own
// rules. It returns nil when the method has no JSON answer.
func Validate(m *Method, body []byte) []Problem {
	if m.Response == nil || m.Stream {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return []Problem{{Msg: "empty answer: dockerd fails to decode it (EOF); answer at least {}"}}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []Problem{{Msg: fmt.Sprintf("answer is not JSON: %v", err)}}
	}
	var ps []Problem
	if dec.More() {
		ps = append(ps, Problem{Msg: "trailing data after the JSON value"})
	}
	if _, ok := v.(map[string]any); !ok {
		return append(ps, Problem{Msg: fmt.Sprintf("answer is %s, want an object", jsonKind(v))})
	}
	w := walker{}
	w.value(m.Response, v, "")
	ps = append(ps, w.problems...)
	if rule := rules[m.Name]; rule != nil {
		ps = append(ps, rule(v.(map[string]any))...)
	}
	if m.Interface == "IpamDriver" {
		if e, ok := v.(map[string]any)["Err"].(string); ok && e != "" {
			ps = append(ps, Problem{Path: "Err", Msg: "IpamDriver answers carry the error in Error; on a 200 dockerd ignores Err and treats the call as a success"})
		}
	}
	return ps
}

type walker struct{ problems []Problem }

func (w *walker) add(path, format string, args ...any) {
	w.problems = append(w.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) value(s *Schema, v any, path string) {
	if v == nil {
		return // Go decodes null into any type as the zero value
	}
	switch s.Kind {
	case KindAny:
	case KindObject:
		obj, ok := v.(map[string]any)
		if !ok {
			w.wrongType(s, v, path)
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f, exact := s.Field(k)
			switch {
			case f == nil:
				w.add(join(path, k), "unknown field (dockerd ignores it)")
				continue
			case !exact:
				w.add(join(path, k), "matches %q only case-insensitively (Go accepts it, other clients may not)", f.Name)
			}
			w.value(f.Schema, obj[k], join(path, f.Name))
		}
		for _, f := range s.Fields {
			if !f.Required {
				continue
			}
			var got any
			for k, val := range obj {
				if strings.EqualFold(k, f.Name) {
					got = val
				}
			}
			if got == nil || got == "" {
				w.add(join(path, f.Name), "missing required field")
			}
		}
	case KindMap:
		obj, ok := v.(map[string]any)
		if !ok {
			w.wrongType(s, v, path)
			return
		}
		for k, val := range obj {
			w.value(s.Elem, val, join(path, k))
		}
	case KindArray:
		arr, ok := v.([]any)
		if !ok {
			w.wrongType(s, v, path)
			return
		}
		for i, val := range arr {
			w.value(s.Elem, val, fmt.Sprintf("%s[%d]", path, i))
		}
	case KindString:
		str, ok := v.(string)
		if !ok {
			w.wrongType(s, v, path)
			return
		}
		w.str(s, str, path)
	case KindBool:
		if _, ok := v.(bool); !ok {
			w.wrongType(s, v, path)
		}
	case KindInteger, KindNumber:
		n, ok := v.(json.Number)
		if !ok {
			w.wrongType(s, v, path)
			return
		}
		if s.Kind == KindInteger {
			if f, err := n.Float64(); err != nil || f != math.Trunc(f) || strings.ContainsAny(n.String(), ".eE") {
				w.add(path, "%s is not an integer: dockerd fails to decode it", n)
			}
		}
	}
}

func (w *walker) wrongType(s *Schema, v any, path string) {
	w.add(path, "is %s, want %s: dockerd fails to decode the answer", jsonKind(v), s.TypeString())
}

func (w *walker) str(s *Schema, v, path string) {
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		w.add(path, "%q is not one of %s", v, quoteAll(s.Enum))
	}
	if v == "" {
		if s.Format == FormatTime {
			w.add(path, `"" is not an RFC 3339 time: dockerd fails to decode it (omit the field instead)`)
		}
		return
	}
	switch s.Format {
	case FormatAbsPath:
		if !strings.HasPrefix(v, "/") {
			w.add(path, "%q is not an absolute path", v)
		}
	case FormatCIDR:
		if _, err := netip.ParsePrefix(v); err != nil {
			w.add(path, "%q is not a CIDR (address/prefix length)", v)
		}
	case FormatIP:
		if _, err := netip.ParseAddr(v); err != nil {
			w.add(path, "%q is not an IP address", v)
		}
	case FormatTime:
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			w.add(path, "%q is not an RFC 3339 time: dockerd fails to decode it", v)
		}
	}
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// rules are checks a schema cannot express, per method.
var rules = map[string]func(map[string]any) []Problem{
	"IpamDriver.RequestPool": func(v map[string]any) []Problem {
		data, _ := v["Data"].(map[string]any)
		gw, ok := data["com.docker.network.gateway"].(string)
		if !ok {
			return nil
		}
		if _, err := netip.ParsePrefix(gw); err != nil {
			return []Problem{{Path: "Data.com.docker.network.gateway", Msg: fmt.Sprintf("%q is not a CIDR", gw)}}
		}
		pool, _ := v["Pool"].(string)
		p, err := netip.ParsePrefix(pool)
		g, _ := netip.ParsePrefix(gw)
		if err == nil && !p.Contains(g.Addr()) {
			return []Problem{{Path: "Data.com.docker.network.gateway", Msg: fmt.Sprintf("gateway %s is outside pool %s", gw, pool)}}
		}
		return nil
	},
	"VolumeDriver.Capabilities": func(v map[string]any) []Problem {
		if _, ok := v["Capabilities"]; !ok {
			return []Problem{{Path: "Capabilities", Msg: "missing: dockerd assumes scope local"}}
		}
		return nil
	},
}

// ValidateRequest checks a request body against m's request schema, as
// Validate does an answer; a plugin decoding it with Go sees the same.
func ValidateRequest(m *Method, body []byte) []Problem {
	if m.Request == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			return []Problem{{Msg: "dockerd sends this method no body"}}
		}
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []Problem{{Msg: fmt.Sprintf("request is not JSON: %v", err)}}
	}
	w := walker{}
	w.value(m.Request, v, "")
	return w.problems
}
