package probe

import (
	"github.com/docker/go-plugins-helpers/ipam"
)

// ipamDriver is libnetwork's remote IPAM interface; its shapes are
// go-plugins-helpers/ipam's, and its error key on a 200 is Error.
func ipamDriver() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "IpamDriver", Implements: "IpamDriver", Type: "docker.ipamdriver/1.0",
			Doc: "Remote IP address management; on a 200 the error key is Error, not Err",
		},
		errField: "Error",
		methods: []methodSpec{
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
		},
	}
}
