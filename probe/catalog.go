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

// Suggest returns the catalog's method names closest to name, for an
// "unknown method" error: same name in another case, or the same suffix.
func Suggest(name string) []string {
	var out []string
	_, short, _ := strings.Cut(name, ".")
	for n := range catalog().methods {
		_, s, _ := strings.Cut(n, ".")
		if strings.EqualFold(n, name) || (short != "" && strings.EqualFold(s, short)) || strings.EqualFold(s, name) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
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
