package types

// Version is what the client reads of the daemon's GET /version answer,
// which the daemon writes as moby's system.VersionResponse, whole and with
// the same field names. The client decodes into this part of it instead:
// moby's system package brings the whole Engine API's types, image-spec
// and go-digest, and their init costs every CLI process.
type Version struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string `json:"GitCommit"`
	GoVersion     string `json:"GoVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
	KernelVersion string `json:"KernelVersion,omitempty"`
}
