package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/version"
)

// TestFlags: the daemon's flags are at the top level, with the defaults
// `plugdbg daemon` had.
func TestFlags(t *testing.T) {
	t.Setenv("PLUGDBG_HOST", "")
	f := newRootCmd().Flags()
	tests := []struct{ name, want string }{
		{"host", "unix:///run/plugdbg/plugdbg.sock"},
		{"data-root", "/var/lib/plugdbg"},
		{"exec-root", "/run/plugdbg"},
		{"log-level", "info"},
		{"log-max-size", "10485760"},
		{"log-max-files", "5"},
		{"log-reserve", "32m"},
		{"registry-timeout", "30s"},
		{"ui-addr", "127.0.0.1:7777"},
		{"stop-grace", "0s"},
		{"docker-host", "unix:///var/run/docker.sock"},
		{"docker-runc-root", "/var/run/docker/runtime-runc/plugins.moby"},
		{"docker-plugin-root", "/run/docker/plugins"},
		{"docker-log-unit", "docker"},
		{"docker-plugins-dir", "/run/docker/plugins"},
		{"docker-publish-all", "false"},
		{"insecure-registry", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := f.Lookup(tt.name)
			require.NotNil(t, fl)
			assert.Equal(t, tt.want, fl.DefValue)
		})
	}
	assert.Equal(t, "H", f.Lookup("host").Shorthand)
	assert.True(t, f.Lookup("cpuprofile").Hidden)
}

func TestVersion(t *testing.T) {
	want := "plugdbgd version " + version.Version + ", API version " + version.APIVersion + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetArgs(args)
		require.NoError(t, root.Execute(), "%v", args)
		assert.Equal(t, want, out.String(), "%v", args)
	}
}

func TestArgumentsRefused(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"daemon"})
	assert.ErrorContains(t, root.Execute(), `unknown command "daemon" for "plugdbgd"`)
}
