package config

import (
	"slices"

	"github.com/moby/moby/api/types/plugin"
)

// Privileges returns the privileges a plugin with config c asks for, in
// Docker's order and with Docker's texts (backend_linux.go: computePrivileges):
// network, host ipc namespace, host pid namespace, one mount per mount with a
// source, one device per device with a path, allow-all-devices, capabilities.
// The result is nil when nothing is asked for, as in Docker (it serializes as
// null). The returned values do not alias c.
func Privileges(c plugin.Config) plugin.Privileges {
	var privs plugin.Privileges
	add := func(name, description string, value ...string) {
		privs = append(privs, plugin.Privilege{Name: name, Description: description, Value: value})
	}
	// Docker tests "null", not "none", so "none" asks for a privilege too.
	switch c.Network.Type {
	case "", "null", "bridge":
	default:
		add("network", "permissions to access a network", c.Network.Type)
	}
	if c.IpcHost {
		add("host ipc namespace", "allow access to host ipc namespace", "true")
	}
	if c.PidHost {
		add("host pid namespace", "allow access to host pid namespace", "true")
	}
	for _, m := range c.Mounts {
		if m.Source != nil {
			add("mount", "host path to mount", *m.Source)
		}
	}
	for _, d := range c.Linux.Devices {
		if d.Path != nil {
			add("device", "host device to access", *d.Path)
		}
	}
	if c.Linux.AllowAllDevices {
		add("allow-all-devices", "allow 'rwm' access to all devices", "true")
	}
	if len(c.Linux.Capabilities) > 0 {
		add("capabilities", "list of additional capabilities required", slices.Clone(c.Linux.Capabilities)...)
	}
	return privs
}
