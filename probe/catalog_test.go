package probe_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./probe -run %s -update", t.Name())
	assert.Equal(t, string(want), got, "golden %s differs; if intended, rerun with -update", path)
}

func TestGoldenCatalog(t *testing.T) {
	r := run(t, probe.Options{List: true})
	require.NoError(t, r.err)
	golden(t, "list-all.golden", r.stdout)
}

func TestGoldenListFromActivate(t *testing.T) {
	f := newFakePlugin(t, reply(http.StatusOK, `{"Implements":["IpamDriver","authz","SecretProvider"]}`))
	r := run(t, probe.Options{Socket: f.socket, List: true})
	require.NoError(t, r.err)
	golden(t, "list-activate.golden", r.stdout)
	assert.Equal(t, "/Plugin.Activate", f.requests()[0].Path)
}

func TestGoldenDescribe(t *testing.T) {
	var all strings.Builder
	for _, i := range probe.Catalog() {
		for _, m := range i.Methods {
			r := run(t, probe.Options{Describe: m.Name})
			require.NoError(t, r.err, m.Name)
			all.WriteString(r.stdout)
			all.WriteString("\n----\n\n")
		}
	}
	golden(t, "describe.golden", all.String())
}

func TestDescribeUnknown(t *testing.T) {
	r := run(t, probe.Options{Describe: "VolumeDriver.Mnt"})
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), `unknown method "VolumeDriver.Mnt"`)
}

// TestCatalogExamples checks the catalog against itself: every example
// request builds and fits the request schema, every example answer
// validates, and every interface dockerd knows is there.
func TestCatalogExamples(t *testing.T) {
	var ifaces []string
	for _, i := range probe.Catalog() {
		ifaces = append(ifaces, i.Name)
		for _, m := range i.Methods {
			t.Run(m.Name, func(t *testing.T) {
				assert.True(t, strings.HasPrefix(m.Name, i.Name+"."))
				if m.Request != nil {
					require.NotEmpty(t, m.ExampleRequest)
					body, err := probe.BuildBody(m, []byte(m.ExampleRequest), nil)
					require.NoError(t, err)
					assert.Empty(t, probe.ValidateRequest(m, body))
				} else {
					assert.Empty(t, m.ExampleRequest, "dockerd sends no body")
				}
				if m.Response != nil && !m.Stream {
					require.NotEmpty(t, m.ExampleResponse)
					assert.Empty(t, probe.Validate(m, []byte(m.ExampleResponse)))
				}
			})
		}
	}
	assert.Equal(t, []string{"Plugin", "VolumeDriver", "NetworkDriver", "IpamDriver", "AuthZPlugin", "LogDriver", "MetricsCollector"}, ifaces)
	m, ok := probe.Lookup("IpamDriver.RequestAddress")
	require.True(t, ok)
	assert.Equal(t, "Error", m.ErrField, "IPAM's error key is Error")
	m, _ = probe.Lookup("VolumeDriver.Mount")
	assert.Equal(t, "Err", m.ErrField)
}

func TestBuildBody(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		base    string
		assigns []string
		want    string // JSON; "" for no body
		wantErr string
	}{
		{name: "default for List", method: "VolumeDriver.List", want: "{}"},
		{name: "default for an empty-body method", method: "IpamDriver.GetCapabilities", want: ""},
		{name: "string and map key", method: "VolumeDriver.Create", assigns: []string{"Name=v1", "Opts.size=1G"}, want: `{"Name":"v1","Opts":{"size":"1G"}}`},
		{name: "case-insensitive field, canonical name", method: "VolumeDriver.Create", assigns: []string{"name=v1", "opts.Size=1G"}, want: `{"Name":"v1","Opts":{"Size":"1G"}}`},
		{name: "on top of a body", method: "VolumeDriver.Create", base: `{"name":"v0","Opts":{"a":"b"}}`, assigns: []string{"Name=v1"}, want: `{"Name":"v1","Opts":{"a":"b"}}`},
		{name: "boolean", method: "IpamDriver.RequestPool", assigns: []string{"V6=true"}, want: `{"V6":true}`},
		{name: "integer", method: "NetworkDriver.DiscoverNew", assigns: []string{"DiscoveryType=1", "DiscoveryData.Self=true"}, want: `{"DiscoveryType":1,"DiscoveryData":{"Self":true}}`},
		{name: "array index", method: "NetworkDriver.CreateNetwork", assigns: []string{"NetworkID=n1", "IPv4Data.0.Pool=10.0.0.0/24", "IPv4Data.0.Gateway=10.0.0.1/24"}, want: `{"NetworkID":"n1","IPv4Data":[{"Pool":"10.0.0.0/24","Gateway":"10.0.0.1/24"}]}`},
		{name: "raw JSON", method: "NetworkDriver.CreateNetwork", assigns: []string{`Options:={"com.docker.network.generic":{"a":"b"}}`}, want: `{"Options":{"com.docker.network.generic":{"a":"b"}}}`},
		{name: "any value as JSON or word", method: "NetworkDriver.Join", assigns: []string{"Options.n=3", "Options.w=word"}, want: `{"Options":{"n":3,"w":"word"}}`},
		{name: "nested object", method: "NetworkDriver.CreateEndpoint", assigns: []string{"Interface.Address=10.0.0.2/24"}, want: `{"Interface":{"Address":"10.0.0.2/24"}}`},
		{name: "string stays a string", method: "VolumeDriver.Create", assigns: []string{"Name=123"}, want: `{"Name":"123"}`},
		{name: "bad boolean", method: "IpamDriver.RequestPool", assigns: []string{"V6=maybe"}, wantErr: `"maybe" is not a boolean`},
		{name: "bad integer", method: "NetworkDriver.DiscoverNew", assigns: []string{"DiscoveryType=one"}, wantErr: `"one" is not an integer`},
		{name: "unknown field", method: "VolumeDriver.Mount", assigns: []string{"Id2=x"}, wantErr: `no field "Id2" (fields: Name, ID)`},
		{name: "into a string", method: "VolumeDriver.Mount", assigns: []string{"Name.x=1"}, wantErr: "Name is a string"},
		{name: "skipping an index", method: "NetworkDriver.CreateNetwork", assigns: []string{"IPv4Data.2.Pool=x"}, wantErr: "skips elements"},
		{name: "no =", method: "VolumeDriver.Mount", assigns: []string{"Name"}, wantErr: "want KEY=VALUE"},
		{name: "bad raw JSON", method: "VolumeDriver.Create", assigns: []string{"Opts:={"}, wantErr: "not valid JSON"},
		{name: "bad base", method: "VolumeDriver.Create", base: `{"Name":}`, wantErr: "request body is not valid JSON"},
		{name: "two values", method: "VolumeDriver.Create", base: `{} {}`, wantErr: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := probe.Lookup(tt.method)
			require.True(t, ok)
			got, err := probe.BuildBody(m, []byte(tt.base), tt.assigns)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.want == "" {
				assert.Nil(t, got)
				return
			}
			assert.True(t, bytes.HasSuffix(got, []byte("}\n")), "newline-terminated: %q", got)
			assert.JSONEq(t, tt.want, string(got))
			assert.False(t, json.Valid(got[:len(got)-1]) && bytes.Contains(got, []byte(": ")), "compact")
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		method string
		body   string
		want   []string // problems, as Problem.String()
	}{
		{"VolumeDriver.Mount", `{"Mountpoint":"/data/v1"}`, nil},
		{"VolumeDriver.Mount", `{"Mountpoint":"data/v1"}`, []string{`Mountpoint: "data/v1" is not an absolute path`}},
		{"VolumeDriver.Mount", `{}`, []string{"Mountpoint: missing required field"}},
		{"VolumeDriver.Mount", `{"mountpoint":"/x"}`, []string{`mountpoint: matches "Mountpoint" only case-insensitively (Go accepts it, other clients may not)`}},
		{"VolumeDriver.Mount", `{"Mountpoint":"/x","Extra":1}`, []string{"Extra: unknown field (dockerd ignores it)"}},
		{"VolumeDriver.Mount", `{"Mountpoint":7}`, []string{"Mountpoint: is a number, want string: dockerd fails to decode the answer"}},
		{"VolumeDriver.Mount", ``, []string{"empty answer: dockerd fails to decode it (EOF); answer at least {}"}},
		{"VolumeDriver.Mount", `[]`, []string{"answer is an array, want an object"}},
		{"VolumeDriver.Mount", `{"Mountpoint":"/x"} {}`, []string{"trailing data after the JSON value"}},
		{"VolumeDriver.Get", `{"Volume":null}`, nil},
		{"VolumeDriver.Get", `{"Volume":{"Name":"v1","CreatedAt":""}}`, []string{`Volume.CreatedAt: "" is not an RFC 3339 time: dockerd fails to decode it (omit the field instead)`}},
		{"VolumeDriver.Get", `{"Volume":{"Name":"v1","CreatedAt":"yesterday"}}`, []string{`Volume.CreatedAt: "yesterday" is not an RFC 3339 time: dockerd fails to decode it`}},
		{"VolumeDriver.List", `{"Volumes":[{"Name":"a","Mountpoint":"/a"},{"Mountpoint":"rel"}]}`, []string{`Volumes[1].Mountpoint: "rel" is not an absolute path`, "Volumes[1].Name: missing required field"}},
		{"VolumeDriver.List", `{"Volumes":{}}`, []string{"Volumes: is an object, want []object: dockerd fails to decode the answer"}},
		{"VolumeDriver.Capabilities", `{"Capabilities":{"Scope":"cluster"}}`, []string{`Capabilities.Scope: "cluster" is not one of "local", "global"`}},
		{"VolumeDriver.Capabilities", `{}`, []string{"Capabilities: missing: dockerd assumes scope local"}},
		{"NetworkDriver.GetCapabilities", `{"Scope":"local","ConnectivityScope":""}`, nil},
		{"NetworkDriver.GetCapabilities", `{"Scope":"Local"}`, []string{`Scope: "Local" is not one of "local", "global"`}},
		{"NetworkDriver.Join", `{"Gateway":"172.18.0.1/16","StaticRoutes":[{"Destination":"10.0.0.0","RouteType":0.5,"NextHop":"x"}]}`, []string{
			`Gateway: "172.18.0.1/16" is not an IP address`,
			`StaticRoutes[0].Destination: "10.0.0.0" is not a CIDR (address/prefix length)`,
			`StaticRoutes[0].NextHop: "x" is not an IP address`,
			"StaticRoutes[0].RouteType: 0.5 is not an integer: dockerd fails to decode it",
		}},
		{"IpamDriver.RequestPool", `{"PoolID":"p","Pool":"10.1.0.0/16","Data":{"com.docker.network.gateway":"10.2.0.1/16"}}`, []string{"Data.com.docker.network.gateway: gateway 10.2.0.1/16 is outside pool 10.1.0.0/16"}},
		{"IpamDriver.RequestPool", `{"PoolID":"p","Pool":"10.1.0.300/16"}`, []string{`Pool: "10.1.0.300/16" is not a CIDR (address/prefix length)`}},
		{"IpamDriver.RequestAddress", `{"Address":"10.1.0.2"}`, []string{`Address: "10.1.0.2" is not a CIDR (address/prefix length)`}},
		{"IpamDriver.ReleasePool", `{"Err":"x"}`, []string{"Err: unknown field (dockerd ignores it)", "Err: IpamDriver answers carry the error in Error; on a 200 dockerd ignores Err and treats the call as a success"}},
		{"AuthZPlugin.AuthZReq", `{"Allow":"yes"}`, []string{"Allow: is a string, want boolean: dockerd fails to decode the answer"}},
		{"LogDriver.Capabilities", `{"ReadLogs":true}`, []string{"ReadLogs: unknown field (dockerd ignores it)", "Cap: missing required field"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.body, func(t *testing.T) {
			m, ok := probe.Lookup(tt.method)
			require.True(t, ok)
			var got []string
			for _, p := range probe.Validate(m, []byte(tt.body)) {
				got = append(got, p.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
