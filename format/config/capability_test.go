package config

import (
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func capIDs(s ...string) []plugin.CapabilityID {
	ids := make([]plugin.CapabilityID, len(s))
	for i, v := range s {
		ids[i] = capID(v)
	}
	return ids
}

func TestInterfaceNames(t *testing.T) {
	tests := []struct {
		name  string
		types []plugin.CapabilityID
		want  []string
	}{
		{"volume", capIDs("docker.volumedriver/1.0"), []string{"VolumeDriver"}},
		{"network", capIDs("docker.networkdriver/1.0"), []string{"NetworkDriver"}},
		{"ipam", capIDs("docker.ipamdriver/1.0"), []string{"IpamDriver"}},
		{"authz", capIDs("docker.authz/1.0"), []string{"authz"}},
		{"log", capIDs("docker.logdriver/1.0"), []string{"LogDriver"}},
		{"metrics", capIDs("docker.metricscollector/1.0"), []string{"MetricsCollector"}},
		{"csi has none", capIDs("docker.csinode/1.0", "docker.csicontroller/1.0"), []string{}},
		{"unknown and foreign prefix left out", capIDs("docker.foo/1.0", "moby.volumedriver/1.0"), []string{}},
		{
			"order kept, duplicates dropped",
			capIDs("docker.networkdriver/1.0", "docker.ipamdriver/1.0", "docker.networkdriver/2.0"),
			[]string{"NetworkDriver", "IpamDriver"},
		},
		{"none", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, InterfaceNames(tt.types))
		})
	}
}

func TestCheckImplements(t *testing.T) {
	tests := []struct {
		name       string
		types      []plugin.CapabilityID
		implements []string
		want       string
	}{
		{name: "match", types: capIDs("docker.volumedriver/1.0"), implements: []string{"VolumeDriver"}},
		{name: "extra implements", types: capIDs("docker.volumedriver/1.0"), implements: []string{"VolumeDriver", "authz"}},
		{
			name:       "both declared",
			types:      capIDs("docker.networkdriver/1.0", "docker.ipamdriver/1.0"),
			implements: []string{"IpamDriver", "NetworkDriver"},
		},
		{name: "csi needs no activate", types: capIDs("docker.csinode/1.0"), implements: nil},
		{
			name:       "mismatch",
			types:      capIDs("docker.volumedriver/1.0"),
			implements: []string{"NetworkDriver"},
			want:       "plugin implements [NetworkDriver] but config.json declares [docker.volumedriver/1.0]: missing VolumeDriver",
		},
		{
			name:       "case matters",
			types:      capIDs("docker.authz/1.0"),
			implements: []string{"AuthZ"},
			want:       "plugin implements [AuthZ] but config.json declares [docker.authz/1.0]: missing authz",
		},
		{
			name:       "one of two missing",
			types:      capIDs("docker.networkdriver/1.0", "docker.ipamdriver/1.0"),
			implements: []string{"NetworkDriver"},
			want:       "plugin implements [NetworkDriver] but config.json declares [docker.networkdriver/1.0 docker.ipamdriver/1.0]: missing IpamDriver",
		},
		{
			name:  "empty implements",
			types: capIDs("docker.logdriver/1.0"),
			want:  "plugin implements [] but config.json declares [docker.logdriver/1.0]: missing LogDriver",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckImplements(tt.types, tt.implements)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.EqualError(t, err, tt.want)
		})
	}
}
