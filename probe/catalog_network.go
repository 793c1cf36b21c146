package probe

import (
	"github.com/docker/go-plugins-helpers/network"
)

// The GwAllocCheck exchange (dockerd v28+), which go-plugins-helpers lacks.
type (
	gwAllocCheckRequest struct {
		Options map[string]any
	}
	gwAllocCheckResponse struct {
		SkipIPv4, SkipIPv6 bool
	}
)

// netOptionsDoc documents the Options dockerd passes to network calls.
func netOptionsDoc(rq *Schema) {
	doc(rq, "Options", "driver options; com.docker.network.generic holds the -o map")
}

// ipamDataFormats marks the pools and gateways IPAM gave as CIDRs.
func ipamDataFormats(rq *Schema) {
	for _, v := range []string{"IPv4Data", "IPv6Data"} {
		format(rq, FormatCIDR, v+"[].Pool", v+"[].Gateway")
	}
}

// networkDriver is libnetwork's remote network driver interface; its
// shapes are go-plugins-helpers/network's plus what dockerd v28 added.
func networkDriver() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "NetworkDriver", Implements: "NetworkDriver", Type: "docker.networkdriver/1.0",
			Doc: "Remote network drivers (libnetwork)",
		},
		errField: "Err",
		methods: []methodSpec{
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
					netOptionsDoc(rq)
					ipamDataFormats(rq)
				},
			},
			{
				name: "AllocateNetwork", doc: "Swarm manager: allocate a global network",
				req: network.AllocateNetworkRequest{}, resp: network.AllocateNetworkResponse{}, optional: true,
				exReq:    `{"NetworkID":"8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f8d2c6f0e4b1a9d3c7e5f2a0b6c4d8e1f","Options":{},"IPv4Data":[],"IPv6Data":[]}`,
				exResp:   `{"Options":{}}`,
				annotate: func(rq, _ *Schema) { req(rq, "NetworkID"); ipamDataFormats(rq) },
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
		},
	}
}
