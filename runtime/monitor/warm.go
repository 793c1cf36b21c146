package monitor

import (
	"encoding/json"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// warmUp does, while a spare monitor waits for its job, the first-use work
// of the JSON a start reads and writes: encoding/json builds each struct
// type's field tables and encoders the first time it meets one, a few
// milliseconds for an OCI spec's dozens of types on this kind of VM, and
// as much again for libcontainer's own config, which it sends to the
// container's init and saves as the container's state. The start would
// otherwise wait for all of it. The spec sample reaches every type a
// plugin's spec uses; encoders are built for a type's whole graph of
// field types at once, so zero values do for the others.
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

	// libcontainer: the init's config (a configs.Config inside), the
	// state file; then what the monitor answers and is asked.
	for _, v := range []any{
		configs.Config{}, libcontainer.State{}, specs.State{},
		startResult{Phases: []Phase{{}}}, Message{Hello: &Hello{}},
		request{Exec: &ExecSpec{}}, reply{},
	} {
		_, _ = json.Marshal(v)
	}
	var r request
	_ = json.Unmarshal([]byte(`{"op":"","exec":{"args":[""],"groups":[0]}}`), &r)
}
