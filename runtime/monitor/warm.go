package monitor

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// warmUp does, while a spare monitor waits for its job, the first-use work
// of reading a start's config: encoding/json builds each struct type's
// field tables the first time it decodes one, a few milliseconds for an
// OCI spec's dozens of types on this kind of VM, which the start would
// otherwise wait for. The sample reaches every type a plugin's spec uses.
func warmUp() {
	u32, i64 := uint32(0), int64(0)
	sample := Config{Spec: &specs.Spec{
		Root: &specs.Root{},
		Process: &specs.Process{
			User:         specs.User{AdditionalGids: []uint32{0}},
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{""}},
			Rlimits:      []specs.POSIXRlimit{{}},
		},
		Mounts: []specs.Mount{{Options: []string{""}}},
		Linux: &specs.Linux{
			Namespaces:    []specs.LinuxNamespace{{}},
			Devices:       []specs.LinuxDevice{{FileMode: nil, UID: &u32, GID: &u32}},
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Major: &i64, Minor: &i64}}},
			MaskedPaths:   []string{""},
			ReadonlyPaths: []string{""},
		},
	}}
	data, err := json.Marshal(sample)
	if err != nil {
		return
	}
	var cfg Config
	_ = json.Unmarshal(data, &cfg)
	var h handover
	_ = json.Unmarshal([]byte(`{"dir":"","token":""}`), &h)
}
