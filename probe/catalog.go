package probe

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Interface is one plugin interface: the RPC prefix of its methods, the name
// Plugin.Activate lists it under, and its managed-plugin type.
type Interface struct {
	Name       string // RPC prefix, e.g. "VolumeDriver", "AuthZPlugin"
	Implements string // in Plugin.Activate's Implements, e.g. "VolumeDriver", "authz"
	Type       string // config.json interface type, e.g. "docker.volumedriver/1.0"
	Doc        string
	Methods    []*Method
}

// Method is one RPC with its request and response shapes.
type Method struct {
	Name      string // "VolumeDriver.Mount"
	Interface string // "VolumeDriver"
	Doc       string
	// Request is nil when dockerd sends an empty body.
	Request *Schema
	// Response is nil when the answer is not JSON (a stream) or dockerd
	// ignores it.
	Response *Schema
	// ErrField is the key of the error message in a 200 answer: "Err", or
	// "Error" for IpamDriver; "" when dockerd reads none.
	ErrField string
	// Optional reports whether dockerd tolerates a 404 (method not implemented).
	Optional bool
	// Stream reports whether the answer is a byte stream, not JSON.
	Stream bool
	// Examples, as compact JSON.
	ExampleRequest, ExampleResponse string
}

// EmptyBody reports whether dockerd calls the method with no body at all.
func (m *Method) EmptyBody() bool { return m.Request == nil }

// methodSpec is one row of the catalog table.
type methodSpec struct {
	name     string
	doc      string
	req      any // a value of the request type; nil: empty body
	resp     any // a value of the response type; nil: none
	optional bool
	stream   bool
	exReq    string
	exResp   string
	annotate func(req, resp *Schema)
}

// empty is a request or answer without fields ({}, or {"Err":""}).
type empty struct{}

// catalog is built on first use, not at start: every plugdbg command would
// pay for it.
var catalog = sync.OnceValue(buildCatalog)

// lazyInterface is one interface of the catalog whose methods are built
// (their schemas, by reflection: the costly part) on the first use of that
// interface: one `plugdbg probe` call looks up one method, and building
// the whole catalog for it was ~4 % of the process.
type lazyInterface struct {
	spec  interfaceSpec
	build func() catalogIndex
}

// lazyInterfaces are the catalog's interfaces in its order. Lookup builds
// the one it needs, buildCatalog all of them: both share what is built.
var lazyInterfaces = sync.OnceValue(func() []*lazyInterface {
	out := make([]*lazyInterface, 0, len(interfaces))
	for _, specOf := range interfaces {
		l := &lazyInterface{spec: specOf()}
		l.build = sync.OnceValue(func() catalogIndex {
			idx := catalogIndex{methods: map[string]*Method{}}
			idx.add(l.spec)
			return idx
		})
		out = append(out, l)
	}
	return out
})

// Catalog returns every interface plugdbg knows, Plugin first. The result is
// shared: do not modify it.
func Catalog() []*Interface { return catalog().ifaces }

// Lookup returns the method named "Interface.Method", exactly as spelt.
func Lookup(name string) (*Method, bool) {
	prefix, _, _ := strings.Cut(name, ".")
	for _, l := range lazyInterfaces() {
		if l.spec.iface.Name == prefix {
			m, ok := l.build().methods[name]
			return m, ok
		}
	}
	return nil, false
}

// InterfaceByImplements returns the interface Plugin.Activate names impl.
func InterfaceByImplements(impl string) (*Interface, bool) {
	for _, i := range catalog().ifaces {
		if i.Implements == impl {
			return i, true
		}
	}
	return nil, false
}

// MethodNames returns the name of every method of the catalog, in its
// order, without building their schemas (shell completion asks for them).
func MethodNames() []string {
	var out []string
	for _, l := range lazyInterfaces() {
		for _, sp := range l.spec.methods {
			out = append(out, l.spec.iface.Name+"."+sp.name)
		}
	}
	return out
}

// InterfaceOf returns the interface of the catalog whose RPC prefix is
// name, without building its methods; exact case.
func InterfaceOf(name string) (implements, typ string, ok bool) {
	for _, l := range lazyInterfaces() {
		if l.spec.iface.Name == name {
			return l.spec.iface.Implements, l.spec.iface.Type, true
		}
	}
	return "", "", false
}

// maxSuggestDistance is the most edits (Levenshtein, case-insensitive) a
// misspelt method name may be from a catalog one to be suggested: one or
// two letters dropped, added or swapped, as typos are; beyond that the
// suggestions would be guesses.
const maxSuggestDistance = 2

// Suggest returns the catalog's method names closest to name, for an
// "unknown method" error: the same name in another case, the same method
// under another interface (or without one), else the names fewest edits
// away (at most maxSuggestDistance, and one per three letters of name;
// case-insensitive).
func Suggest(name string) []string {
	lname := strings.ToLower(name)
	_, short, hasDot := strings.Cut(lname, ".")
	// A short name is a few edits from many: at most one edit per three
	// letters.
	best := min(maxSuggestDistance, len(lname)/3) + 1
	var out []string
	for _, n := range MethodNames() {
		ln := strings.ToLower(n)
		_, s, _ := strings.Cut(ln, ".")
		var d int
		switch {
		case ln == lname || (hasDot && s == short) || s == lname:
			d = 0
		case hasDot:
			d = levenshtein(lname, ln)
		default: // a method without its interface: compare to the method part
			d = levenshtein(lname, s)
		}
		switch {
		case d < best:
			best, out = d, []string{n}
		case d == best:
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// levenshtein returns the number of single-byte insertions, deletions and
// substitutions that turn a into b (method names are ASCII).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type catalogIndex struct {
	ifaces  []*Interface
	methods map[string]*Method
}

// interfaceSpec is one interface of the catalog, as a catalog_*.go file
// declares it: the interface, the key of its error field in a 200 answer,
// and its methods.
type interfaceSpec struct {
	iface    *Interface
	errField string
	methods  []methodSpec
}

// interfaces are the catalog's interfaces in the order --list shows them,
// one catalog_*.go file each.
var interfaces = []func() interfaceSpec{
	pluginHandshake, volumeDriver, networkDriver, ipamDriver, authzPlugin, logDriver, metricsCollector,
}

func buildCatalog() catalogIndex {
	idx := catalogIndex{methods: map[string]*Method{}}
	for _, l := range lazyInterfaces() {
		built := l.build()
		idx.ifaces = append(idx.ifaces, built.ifaces...)
		for name, m := range built.methods {
			idx.methods[name] = m
		}
	}
	return idx
}

// add builds the methods of s into its interface, and indexes them.
func (idx *catalogIndex) add(s interfaceSpec) {
	iface, errField := s.iface, s.errField
	for _, sp := range s.methods {
		m := &Method{
			Name: iface.Name + "." + sp.name, Interface: iface.Name, Doc: sp.doc,
			Optional: sp.optional, Stream: sp.stream,
			ExampleRequest: sp.exReq, ExampleResponse: sp.exResp,
		}
		if sp.req != nil {
			m.Request = schemaOf(reflect.TypeOf(sp.req)).clone()
		}
		if sp.resp != nil {
			m.Response = schemaOf(reflect.TypeOf(sp.resp)).clone()
			m.ErrField = errField
			if errField != "" {
				if f, _ := m.Response.Field(errField); f == nil {
					m.Response.Fields = append(m.Response.Fields, &Field{
						Name: errField, Schema: &Schema{Kind: KindString},
						Doc: "error message; non-empty means the call failed",
					})
				}
			}
		}
		if sp.annotate != nil {
			sp.annotate(m.Request, m.Response)
		}
		iface.Methods = append(iface.Methods, m)
		idx.methods[m.Name] = m
	}
	idx.ifaces = append(idx.ifaces, iface)
}

// The annotate helpers below take paths in Schema.at's syntax.

func req(s *Schema, paths ...string) {
	for _, p := range paths {
		f, _ := s.at(p)
		f.Required = true
	}
}

func format(s *Schema, f Format, paths ...string) {
	for _, p := range paths {
		_, n := s.at(p)
		n.Format = f
	}
}

func enum(s *Schema, path string, values ...string) {
	_, n := s.at(path)
	n.Enum = values
}

func doc(s *Schema, path, text string) {
	f, _ := s.at(path)
	f.Doc = text
}
