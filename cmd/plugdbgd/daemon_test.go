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
	t.Setenv("PLUGDBG_CERT_PATH", "")
	f := newRootCmd().Flags()
	tests := []struct{ name, want string }{
		{"host", "[unix:///run/plugdbg/plugdbg.sock]"},
		{"tls", "false"},
		{"tlsverify", "false"},
		{"tlscacert", ""},
		{"tlscert", ""},
		{"tlskey", ""},
		{"data-root", "/var/lib/plugdbg"},
		{"exec-root", "/run/plugdbg"},
		{"log-level", "info"},
		{"log-max-size", "10m"},
		{"group", "plugdbg"},
		{"log-max-files", "5"},
		{"log-reserve", "32m"},
		{"registry-timeout", "30s"},
		{"ui-addr", "127.0.0.1:7777"},
		{"metrics-addr", ""},
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

// TestFlagsFromEnv: PLUGDBG_HOST is the listener when no -H is given, and
// the TLS files default to PLUGDBG_CERT_PATH's, as docker's to
// DOCKER_CERT_PATH's.
func TestFlagsFromEnv(t *testing.T) {
	t.Setenv("PLUGDBG_HOST", "tcp://127.0.0.1:2375")
	t.Setenv("PLUGDBG_CERT_PATH", "/etc/plugdbg/tls")
	f := newRootCmd().Flags()
	assert.Equal(t, "[tcp://127.0.0.1:2375]", f.Lookup("host").DefValue)
	assert.Equal(t, "/etc/plugdbg/tls/ca.pem", f.Lookup("tlscacert").DefValue)
	assert.Equal(t, "/etc/plugdbg/tls/cert.pem", f.Lookup("tlscert").DefValue)
	assert.Equal(t, "/etc/plugdbg/tls/key.pem", f.Lookup("tlskey").DefValue)

	// Each -H is one more listener, in place of the default.
	require.NoError(t, f.Parse([]string{"-H", "unix:///a.sock", "--host", "tcp://127.0.0.1:1"}))
	hosts, err := f.GetStringArray("host")
	require.NoError(t, err)
	assert.Equal(t, []string{"unix:///a.sock", "tcp://127.0.0.1:1"}, hosts)
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

// TestParseSize: size flags take docker's 10m form and plain byte counts.
func TestParseSize(t *testing.T) {
	tests := []struct {
		name, v string
		want    int64
		err     bool
	}{
		{name: "megabytes", v: "10m", want: 10 << 20},
		{name: "upper case", v: "1G", want: 1 << 30},
		{name: "with b", v: "512kb", want: 512 << 10},
		{name: "bytes", v: "10485760", want: 10 << 20},
		{name: "zero", v: "0", err: true},
		{name: "words", v: "ten", err: true},
		{name: "negative", v: "-1m", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseSize("log-max-size", tt.v, 1, "a size")
			if tt.err {
				require.ErrorContains(t, err, "invalid --log-max-size")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
		})
	}
}

// TestBadSizeFlag: a size the daemon cannot read is refused before it
// starts, with the flag's name.
func TestBadSizeFlag(t *testing.T) {
	c := newRootCmd()
	c.SetArgs([]string{"--log-max-size", "10q"})
	c.SetOut(new(bytes.Buffer))
	err := c.Execute()
	require.ErrorContains(t, err, `invalid --log-max-size "10q"`)
}
