package config

import (
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrivilegesOrder(t *testing.T) {
	c := plugin.Config{
		Network: plugin.NetworkConfig{Type: "host"},
		IpcHost: true,
		PidHost: true,
		Mounts: []plugin.Mount{
			{Name: "a", Source: ptr("/var/lib/a")},
			{Name: "unset"}, // null source: no privilege
			{Name: "b", Source: ptr("/var/lib/b")},
		},
		Linux: plugin.LinuxConfig{
			AllowAllDevices: true,
			Capabilities:    []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"},
			Devices: []plugin.Device{
				{Name: "fuse", Path: ptr("/dev/fuse")},
				{Name: "unset"},
			},
		},
	}
	want := plugin.Privileges{
		{Name: "network", Description: "permissions to access a network", Value: []string{"host"}},
		{Name: "host ipc namespace", Description: "allow access to host ipc namespace", Value: []string{"true"}},
		{Name: "host pid namespace", Description: "allow access to host pid namespace", Value: []string{"true"}},
		{Name: "mount", Description: "host path to mount", Value: []string{"/var/lib/a"}},
		{Name: "mount", Description: "host path to mount", Value: []string{"/var/lib/b"}},
		{Name: "device", Description: "host device to access", Value: []string{"/dev/fuse"}},
		{Name: "allow-all-devices", Description: "allow 'rwm' access to all devices", Value: []string{"true"}},
		{Name: "capabilities", Description: "list of additional capabilities required", Value: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}},
	}
	got := Privileges(c)
	assert.Equal(t, want, got)

	require.Len(t, got, len(want))
	got[len(got)-1].Value[0] = "changed"
	assert.Equal(t, "CAP_SYS_ADMIN", c.Linux.Capabilities[0], "Privileges must not alias the config")
}

func TestPrivilegesNetwork(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		want plugin.Privileges
	}{
		{name: "unset", typ: ""},
		{name: "bridge", typ: "bridge"},
		{name: "null", typ: "null"},
		{
			name: "none asks, as in Docker",
			typ:  "none",
			want: plugin.Privileges{{Name: "network", Description: "permissions to access a network", Value: []string{"none"}}},
		},
		{
			name: "host",
			typ:  "host",
			want: plugin.Privileges{{Name: "network", Description: "permissions to access a network", Value: []string{"host"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Privileges(plugin.Config{Network: plugin.NetworkConfig{Type: tt.typ}}))
		})
	}
}

func TestPrivilegesNone(t *testing.T) {
	assert.Nil(t, Privileges(plugin.Config{}))
}
