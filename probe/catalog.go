package probe

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
	"github.com/docker/go-plugins-helpers/ipam"
	"github.com/docker/go-plugins-helpers/network"
	"github.com/docker/go-plugins-helpers/volume"
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

// Types dockerd uses that go-plugins-helpers lacks (fields it lacks are
// added by the annotate functions).
type (
	gwAllocCheckRequest struct {
		Options map[string]any
	}
	gwAllocCheckResponse struct {
		SkipIPv4, SkipIPv6 bool
	}
	logInfo struct {
		Config              map[string]string
		ContainerID         string
		ContainerName       string
		ContainerEntrypoint string
		ContainerArgs       []string
		ContainerImageID    string
		ContainerImageName  string
		ContainerCreated    time.Time
		ContainerEnv        []string
		ContainerLabels     map[string]string
		LogPath             string
		DaemonName          string
	}
	logStartRequest struct {
		File string
		Info logInfo
	}
	logStopRequest struct {
		File string
	}
	logCapabilitiesResponse struct {
		Cap struct{ ReadLogs bool }
	}
	logReadConfig struct {
		Since  time.Time
		Until  time.Time
		Tail   int
		Follow bool
	}
	logReadRequest struct {
		Info   logInfo
		Config logReadConfig
	}
	activateResponse struct {
		Implements []string
	}
	empty struct{}
)

// catalog is built on first use, not at start: every plugdbg command would
// pay for it.
var catalog = sync.OnceValue(buildCatalog)

// Catalog returns every interface plugdbg knows, Plugin first. The result is
// shared: do not modify it.
func Catalog() []*Interface { return catalog().ifaces }

// Lookup returns the method named "Interface.Method", exactly as spelt.
func Lookup(name string) (*Method, bool) {
	m, ok := catalog().methods[name]
	return m, ok
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

func buildCatalog() catalogIndex {
	idx := catalogIndex{methods: map[string]*Method{}}
	add := func(iface *Interface, errField string, specs []methodSpec) {
		for _, sp := range specs {
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

	add(&Interface{
		Name: "Plugin", Implements: "", Type: "",
		Doc: "Handshake every plugin built with go-plugins-helpers answers (dockerd sends it only to legacy plugins)",
	}, "", []methodSpec{{
		name: "Activate", doc: "List the interfaces the plugin implements",
		resp: activateResponse{}, exResp: `{"Implements":["VolumeDriver"]}`,
		annotate: func(_, resp *Schema) { req(resp, "Implements") },
	}})

	add(&Interface{
		Name: "VolumeDriver", Implements: "VolumeDriver", Type: "docker.volumedriver/1.0",
		Doc: "Volumes for `docker volume` and container mounts",
	}, "Err", []methodSpec{
		{
			name: "Create", doc: "Create a volume (dockerd waits up to 2 minutes)",
			req: volume.CreateRequest{}, resp: empty{},
			exReq: `{"Name":"v1","Opts":{"size":"1G"}}`, exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "Name") },
		},
		{
			name: "Remove", doc: "Remove a volume",
			req: volume.RemoveRequest{}, resp: empty{},
			exReq: `{"Name":"v1"}`, exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "Name") },
		},
		{
			name: "Mount", doc: "Mount a volume for one container; ID is reused by Unmount (2 minutes)",
			req: volume.MountRequest{}, resp: volume.MountResponse{},
			exReq:  `{"Name":"v1","ID":"2f1c6a8d0b5e4f3a9c7d1e0b8a6f4c2d2f1c6a8d0b5e4f3a9c7d1e0b8a6f4c2d"}`,
			exResp: `{"Mountpoint":"/data/v1","Err":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "Name", "ID")
				req(rs, "Mountpoint")
				format(rs, FormatAbsPath, "Mountpoint")
			},
		},
		{
			name: "Unmount", doc: "Release one Mount, by the same ID",
			req: volume.UnmountRequest{}, resp: empty{},
			exReq:    `{"Name":"v1","ID":"2f1c6a8d0b5e4f3a9c7d1e0b8a6f4c2d2f1c6a8d0b5e4f3a9c7d1e0b8a6f4c2d"}`,
			exResp:   `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "Name", "ID") },
		},
		{
			name: "Path", doc: "Where a volume is mounted on the host (empty when not mounted)",
			req: volume.PathRequest{}, resp: volume.PathResponse{},
			exReq: `{"Name":"v1"}`, exResp: `{"Mountpoint":"/data/v1","Err":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "Name")
				format(rs, FormatAbsPath, "Mountpoint")
			},
		},
		{
			name: "Get", doc: "One volume; Volume null with no Err means \"no such volume\"",
			req: volume.GetRequest{}, resp: volume.GetResponse{},
			exReq:  `{"Name":"v1"}`,
			exResp: `{"Volume":{"Name":"v1","Mountpoint":"/data/v1","CreatedAt":"2026-11-27T10:00:00Z","Status":{}},"Err":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "Name")
				req(rs, "Volume.Name")
				format(rs, FormatAbsPath, "Volume.Mountpoint")
				format(rs, FormatTime, "Volume.CreatedAt")
			},
		},
		{
			name: "List", doc: "Every volume the driver knows (dockerd sends {})",
			req: empty{}, resp: volume.ListResponse{},
			exReq: `{}`, exResp: `{"Volumes":[{"Name":"v1","Mountpoint":"/data/v1"}],"Err":""}`,
			annotate: func(_, rs *Schema) {
				req(rs, "Volumes[].Name")
				format(rs, FormatAbsPath, "Volumes[].Mountpoint")
				format(rs, FormatTime, "Volumes[].CreatedAt")
			},
		},
		{
			name: "Capabilities", doc: "Scope: local or global (an error or empty scope means local)",
			req: empty{}, resp: volume.CapabilitiesResponse{}, optional: true,
			exReq: `{}`, exResp: `{"Capabilities":{"Scope":"local"}}`,
			annotate: func(_, rs *Schema) { enum(rs, "Capabilities.Scope", "local", "global") },
		},
	})

	netOpts := func(rq *Schema) { doc(rq, "Options", "driver options; com.docker.network.generic holds the -o map") }
	ipamData := func(rq *Schema) {
		for _, v := range []string{"IPv4Data", "IPv6Data"} {
			format(rq, FormatCIDR, v+"[].Pool", v+"[].Gateway")
		}
	}
	add(&Interface{
		Name: "NetworkDriver", Implements: "NetworkDriver", Type: "docker.networkdriver/1.0",
		Doc: "Remote network drivers (libnetwork)",
	}, "Err", []methodSpec{
		{
			name: "GetCapabilities", doc: "Scope and connectivity scope; any other scope rejects the driver",
			resp: network.CapabilitiesResponse{}, exResp: `{"Scope":"local","ConnectivityScope":"local"}`,
			annotate: func(_, rs *Schema) {
				req(rs, "Scope")
				enum(rs, "Scope", "local", "global")
				enum(rs, "ConnectivityScope", "", "local", "global")
				rs.Fields = append(rs.Fields, &Field{Name: "GwAllocChecker", Schema: &Schema{Kind: KindBool},
					Doc: "ask GwAllocCheck before allocating gateways (dockerd v28+)"})
			},
		},
		{
			name: "GwAllocCheck", doc: "Whether dockerd should skip gateway allocation (only if GwAllocChecker)",
			req: gwAllocCheckRequest{}, resp: gwAllocCheckResponse{}, optional: true,
			exReq: `{"Options":{}}`, exResp: `{"SkipIPv4":false,"SkipIPv6":false}`,
		},
		{
			name: "CreateNetwork", doc: "Create a network with the pools IPAM gave",
			req: network.CreateNetworkRequest{}, resp: empty{},
			exReq:  `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","Options":{"com.docker.network.generic":{}},"IPv4Data":[{"AddressSpace":"LocalDefault","Pool":"172.18.0.0/16","Gateway":"172.18.0.1/16"}],"IPv6Data":[]}`,
			exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) {
				req(rq, "NetworkID")
				netOpts(rq)
				ipamData(rq)
			},
		},
		{
			name: "AllocateNetwork", doc: "Swarm manager: allocate a global network",
			req: network.AllocateNetworkRequest{}, resp: network.AllocateNetworkResponse{}, optional: true,
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","Options":{},"IPv4Data":[],"IPv6Data":[]}`,
			exResp:   `{"Options":{}}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID"); ipamData(rq) },
		},
		{
			name: "FreeNetwork", doc: "Swarm manager: free a global network",
			req: network.FreeNetworkRequest{}, resp: empty{}, optional: true,
			exReq: `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f"}`, exResp: `{}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID") },
		},
		{
			name: "DeleteNetwork", doc: "Delete a network",
			req: network.DeleteNetworkRequest{}, resp: empty{},
			exReq: `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f"}`, exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID") },
		},
		{
			name: "CreateEndpoint", doc: "Create an endpoint; answer only the Interface fields the request left empty",
			req: network.CreateEndpointRequest{}, resp: network.CreateEndpointResponse{},
			exReq:  `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b","Interface":{"Address":"172.18.0.2/16","AddressIPv6":"","MacAddress":""},"Options":{}}`,
			exResp: `{"Interface":{"MacAddress":"02:42:ac:12:00:02"},"Err":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "NetworkID", "EndpointID")
				format(rq, FormatCIDR, "Interface.Address", "Interface.AddressIPv6")
				format(rs, FormatCIDR, "Interface.Address", "Interface.AddressIPv6")
			},
		},
		{
			name: "EndpointOperInfo", doc: "Operational data of an endpoint",
			req: network.InfoRequest{}, resp: network.InfoResponse{},
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b"}`,
			exResp:   `{"Value":{}}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID", "EndpointID") },
		},
		{
			name: "DeleteEndpoint", doc: "Delete an endpoint",
			req: network.DeleteEndpointRequest{}, resp: empty{},
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b"}`,
			exResp:   `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID", "EndpointID") },
		},
		{
			name: "Join", doc: "Attach an endpoint to a sandbox: interface names, gateways, routes",
			req: network.JoinRequest{}, resp: network.JoinResponse{},
			exReq:  `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b","SandboxKey":"/var/run/docker/netns/1a2b3c4d5e6f","Options":{}}`,
			exResp: `{"InterfaceName":{"SrcName":"veth1","DstPrefix":"eth"},"Gateway":"172.18.0.1","GatewayIPv6":"","StaticRoutes":[{"Destination":"10.0.0.0/8","RouteType":0,"NextHop":"172.18.0.254"}],"DisableGatewayService":false,"Err":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "NetworkID", "EndpointID", "SandboxKey")
				format(rs, FormatIP, "Gateway", "GatewayIPv6", "StaticRoutes[].NextHop")
				format(rs, FormatCIDR, "StaticRoutes[].Destination")
				doc(rs, "StaticRoutes[].RouteType", "0 = next hop, 1 = connected")
			},
		},
		{
			name: "Leave", doc: "Detach an endpoint from its sandbox",
			req: network.LeaveRequest{}, resp: empty{},
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b"}`,
			exResp:   `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID", "EndpointID") },
		},
		{
			name: "ProgramExternalConnectivity", doc: "The endpoint became the container's gateway endpoint",
			req: network.ProgramExternalConnectivityRequest{}, resp: empty{}, optional: true,
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b","Options":{}}`,
			exResp:   `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID", "EndpointID") },
		},
		{
			name: "RevokeExternalConnectivity", doc: "The endpoint stopped being the gateway endpoint",
			req: network.RevokeExternalConnectivityRequest{}, resp: empty{}, optional: true,
			exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","EndpointID":"3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b3b7e1d9c5a2f8e4d0c6b1a7f3e9d5c2b"}`,
			exResp:   `{"Err":""}`,
			annotate: func(rq, _ *Schema) { req(rq, "NetworkID", "EndpointID") },
		},
		{
			name: "DiscoverNew", doc: "A node joined (DiscoveryType 1)", optional: true,
			req: network.DiscoveryNotification{}, resp: empty{},
			exReq: `{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.2","BindAddress":"10.0.0.2","Self":false}}`, exResp: `{"Err":""}`,
		},
		{
			name: "DiscoverDelete", doc: "A node left (DiscoveryType 1)", optional: true,
			req: network.DiscoveryNotification{}, resp: empty{},
			exReq: `{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.2","BindAddress":"10.0.0.2","Self":false}}`, exResp: `{"Err":""}`,
		},
	})

	add(&Interface{
		Name: "IpamDriver", Implements: "IpamDriver", Type: "docker.ipamdriver/1.0",
		Doc: "Remote IP address management; on a 200 the error key is Error, not Err",
	}, "Error", []methodSpec{
		{
			name: "GetCapabilities", doc: "Whether the driver needs MAC addresses or request replay",
			resp: ipam.CapabilitiesResponse{}, exResp: `{"RequiresMACAddress":false,"RequiresRequestReplay":false}`,
			annotate: func(_, rs *Schema) {
				rs.Fields = append(rs.Fields[:1], append([]*Field{{Name: "RequiresRequestReplay", Schema: &Schema{Kind: KindBool}}}, rs.Fields[1:]...)...)
			},
		},
		{
			name: "GetDefaultAddressSpaces", doc: "Names of the local and global address spaces (called before every RequestPool)",
			resp: ipam.AddressSpacesResponse{}, exResp: `{"LocalDefaultAddressSpace":"local","GlobalDefaultAddressSpace":"global"}`,
			annotate: func(_, rs *Schema) { req(rs, "LocalDefaultAddressSpace", "GlobalDefaultAddressSpace") },
		},
		{
			name: "RequestPool", doc: "Lease a pool; Data[com.docker.network.gateway] (a CIDR) sets the gateway",
			req: ipam.RequestPoolRequest{}, resp: ipam.RequestPoolResponse{},
			exReq:  `{"AddressSpace":"local","Pool":"","SubPool":"","Options":{},"V6":false}`,
			exResp: `{"PoolID":"local/10.1.0.0/16","Pool":"10.1.0.0/16","Data":{"com.docker.network.gateway":"10.1.0.1/16"}}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "AddressSpace")
				format(rq, FormatCIDR, "Pool", "SubPool")
				req(rs, "PoolID", "Pool")
				format(rs, FormatCIDR, "Pool")
			},
		},
		{
			name: "ReleasePool", doc: "Release a pool",
			req: ipam.ReleasePoolRequest{}, resp: empty{},
			exReq: `{"PoolID":"local/10.1.0.0/16"}`, exResp: `{}`,
			annotate: func(rq, _ *Schema) { req(rq, "PoolID") },
		},
		{
			name: "RequestAddress", doc: "Lease an address from a pool (Address empty: any free one)",
			req: ipam.RequestAddressRequest{}, resp: ipam.RequestAddressResponse{},
			exReq: `{"PoolID":"local/10.1.0.0/16","Address":"","Options":{}}`, exResp: `{"Address":"10.1.0.2/16","Data":{}}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "PoolID")
				format(rq, FormatIP, "Address")
				req(rs, "Address")
				format(rs, FormatCIDR, "Address")
				doc(rq, "Options", "RequestAddressType=com.docker.network.gateway marks a gateway request")
			},
		},
		{
			name: "ReleaseAddress", doc: "Release an address",
			req: ipam.ReleaseAddressRequest{}, resp: empty{},
			exReq: `{"PoolID":"local/10.1.0.0/16","Address":"10.1.0.2"}`, exResp: `{}`,
			annotate: func(rq, _ *Schema) {
				req(rq, "PoolID", "Address")
				format(rq, FormatIP, "Address")
			},
		},
	})

	add(&Interface{
		Name: "AuthZPlugin", Implements: "authz", Type: "docker.authz/1.0",
		Doc: "Authorization of every Engine API request; Err on a 200 is ignored",
	}, "Err", []methodSpec{
		{
			name: "AuthZReq", doc: "Allow or deny a request before dockerd handles it",
			req: authorization.Request{}, resp: authorization.Response{},
			exReq:  `{"User":"","UserAuthNMethod":"","RequestMethod":"GET","RequestUri":"/v1.47/info","RequestHeaders":{"User-Agent":"Docker-Client/29.0.0"}}`,
			exResp: `{"Allow":true,"Msg":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "RequestMethod", "RequestUri")
				req(rs, "Allow")
				doc(rs, "Msg", "shown to the client when Allow is false")
				doc(rs, "Err", "ignored by dockerd on a 200")
			},
		},
		{
			name: "AuthZRes", doc: "Allow or deny the answer to a request; adds the Response* fields",
			req: authorization.Request{}, resp: authorization.Response{},
			exReq:  `{"RequestMethod":"GET","RequestUri":"/v1.47/info","ResponseStatusCode":200,"ResponseHeaders":{"Content-Type":"application/json"}}`,
			exResp: `{"Allow":true,"Msg":""}`,
			annotate: func(rq, rs *Schema) {
				req(rq, "RequestMethod", "RequestUri")
				req(rs, "Allow")
				doc(rs, "Msg", "shown to the client when Allow is false")
				doc(rs, "Err", "ignored by dockerd on a 200")
			},
		},
	})

	add(&Interface{
		Name: "LogDriver", Implements: "LogDriver", Type: "docker.logdriver/1.0",
		Doc: "Container log drivers; entries travel through a FIFO as length-prefixed protobuf",
	}, "Err", []methodSpec{
		{
			name: "StartLogging", doc: "Start reading a container's FIFO (File is the path inside the plugin)",
			req: logStartRequest{}, resp: empty{},
			exReq:  `{"File":"/run/docker/logging/5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e","Info":{"Config":{},"ContainerID":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00","ContainerName":"/web","ContainerEntrypoint":"nginx","ContainerArgs":[],"ContainerImageID":"sha256:0d0d","ContainerImageName":"nginx:alpine","ContainerCreated":"2026-11-27T10:00:00Z","ContainerEnv":[],"ContainerLabels":{},"LogPath":"","DaemonName":"docker"}}`,
			exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) {
				req(rq, "File", "Info.ContainerID")
				format(rq, FormatAbsPath, "File")
			},
		},
		{
			name: "StopLogging", doc: "Stop reading a FIFO; drain it before answering",
			req: logStopRequest{}, resp: empty{},
			exReq: `{"File":"/run/docker/logging/5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c2e"}`, exResp: `{"Err":""}`,
			annotate: func(rq, _ *Schema) {
				req(rq, "File")
				format(rq, FormatAbsPath, "File")
			},
		},
		{
			name: "Capabilities", doc: "ReadLogs support, wrapped in Cap (a bare {\"ReadLogs\":true} reads as false)",
			resp: logCapabilitiesResponse{}, exResp: `{"Cap":{"ReadLogs":true}}`,
			annotate: func(_, rs *Schema) { req(rs, "Cap") },
		},
		{
			name: "ReadLogs", doc: "Stream stored entries (only if Cap.ReadLogs); the answer is framed protobuf",
			req: logReadRequest{}, stream: true,
			exReq:    `{"Info":{"ContainerID":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"},"Config":{"Since":"0001-01-01T00:00:00Z","Until":"0001-01-01T00:00:00Z","Tail":-1,"Follow":false}}`,
			annotate: func(rq, _ *Schema) { req(rq, "Info.ContainerID") },
		},
	})

	add(&Interface{
		Name: "MetricsCollector", Implements: "MetricsCollector", Type: "docker.metricscollector/1.0",
		Doc: "Scrapers of dockerd's metrics socket (/run/docker/metrics.sock in the plugin); answers are ignored",
	}, "", []methodSpec{
		{name: "StartMetrics", doc: "Sent after each enable", resp: empty{}, exResp: `{}`},
		{name: "StopMetrics", doc: "Sent at daemon shutdown", resp: empty{}, exResp: `{}`},
	})
	return idx
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
