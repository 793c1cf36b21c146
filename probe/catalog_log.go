package probe

import (
	"time"
)

// The LogDriver exchanges, as dockerd's daemon/logger package defines them.
type (
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
)

// logDriver is the log driver interface. go-plugins-helpers has no package
// for it; its shapes are dockerd's (daemon/logger).
func logDriver() interfaceSpec {
	return interfaceSpec{
		iface: &Interface{
			Name: "LogDriver", Implements: "LogDriver", Type: "docker.logdriver/1.0",
			Doc: "Container log drivers; entries travel through a FIFO as length-prefixed protobuf",
		},
		errField: "Err",
		methods: []methodSpec{
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
		},
	}
}
