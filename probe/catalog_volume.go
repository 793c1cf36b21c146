package probe

import (
	"github.com/docker/go-plugins-helpers/volume"
)

// volumeDriver is the volume plugin interface; its shapes are
// go-plugins-helpers/volume's.
func volumeDriver() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "VolumeDriver", Implements: "VolumeDriver", Type: "docker.volumedriver/1.0",
			Doc: "Volumes for `docker volume` and container mounts",
		},
		errField: "Err",
		methods: []methodSpec{
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
		},
	}
}
