package probe

import (
	"github.com/docker/go-plugins-helpers/authorization"
)

// authzPlugin is the authorization interface (AuthZPlugin, listed as
// "authz"); its shapes are go-plugins-helpers/authorization's.
func authzPlugin() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "AuthZPlugin", Implements: "authz", Type: "docker.authz/1.0",
			Doc: "Authorization of every Engine API request; Err on a 200 is ignored",
		},
		errField: "Err",
		methods: []methodSpec{
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
		},
	}
}
