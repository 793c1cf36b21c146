package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// complete runs cobra's hidden __complete as a shell does on Tab and
// returns the candidates, without the directive line.
func complete(t *testing.T, host string, words ...string) []string {
	t.Helper()
	stdout, stderr, code := cli(t, host, append([]string{"__complete"}, words...)...)
	require.Equal(t, 0, code, "stderr:\n%s", stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.NotEmpty(t, lines)
	require.True(t, strings.HasPrefix(lines[len(lines)-1], ":"), "the directive comes last: %q", stdout)
	if len(lines) == 1 {
		return nil
	}
	return lines[:len(lines)-1]
}

// TestCompletion completes plugin names from a real daemon and method
// names from the catalog, as the shells ask for them.
// Its daemon's dockerd is away: dockerd's plugins are left out quietly.
func TestCompletion(t *testing.T) {
	d := startDaemonWith(t, "--docker-host", "unix:///nonexistent/docker.sock")
	for name, kind := range map[string]string{"vol": "volume", "net": "network", "ipam": "ipam", "authz": "authz", "bad": "badvol"} {
		d.create(t, name, kind)
		d.enable(t, name)
	}
	d.create(t, "off", "volume")
	enabled := []string{"authz", "bad", "ipam", "net", "vol"}

	tests := []struct {
		name  string
		words []string
		want  []string
	}{
		{name: "probe offers the enabled plugins", words: []string{"probe", ""}, want: enabled},
		{name: "by prefix", words: []string{"probe", "v"}, want: []string{"vol"}},
		{name: "enable offers the disabled ones", words: []string{"enable", ""}, want: []string{"off"}},
		{name: "inspect offers all, but those given", words: []string{"inspect", "vol", ""}, want: []string{"authz", "bad", "ipam", "net", "off"}},
		{name: "one plugin for exec", words: []string{"exec", "vol", ""}, want: nil},
		{
			name: "a volume plugin's methods", words: []string{"probe", "vol", "Vol"},
			want: []string{
				"VolumeDriver.Create", "VolumeDriver.Remove", "VolumeDriver.Mount", "VolumeDriver.Unmount",
				"VolumeDriver.Path", "VolumeDriver.Get", "VolumeDriver.List", "VolumeDriver.Capabilities",
			},
		},
		{name: "no other interface's", words: []string{"probe", "vol", "Net"}, want: nil},
		{name: "the handshake", words: []string{"probe", "net", "Plugin."}, want: []string{"Plugin.Activate"}},
		{name: "in another case", words: []string{"probe", "ipam", "ipamdriver.req"}, want: []string{"IpamDriver.RequestPool", "IpamDriver.RequestAddress"}},
		{name: "methods after --socket", words: []string{"probe", "--socket", "/x.sock", "NetworkDriver.Cr"}, want: []string{"NetworkDriver.CreateNetwork", "NetworkDriver.CreateEndpoint"}},
		{name: "--describe", words: []string{"probe", "--describe", "AuthZPlugin."}, want: []string{"AuthZPlugin.AuthZReq", "AuthZPlugin.AuthZRes"}},
		{name: "check --interface", words: []string{"check", "--interface", "a"}, want: []string{"authz"}},
		{name: "nothing for a body", words: []string{"probe", "vol", "VolumeDriver.Get", ""}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, complete(t, d.host, tt.words...))
		})
	}

	t.Run("no daemon: no candidates, no error", func(t *testing.T) {
		host := "unix://" + d.dir + "/none.sock"
		assert.Empty(t, complete(t, host, "probe", ""))
		assert.Contains(t, complete(t, host, "probe", "vol", "VolumeDriver.Li"), "VolumeDriver.List", "the catalog needs no daemon")
	})

	t.Run("bash", func(t *testing.T) {
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Skip("no bash")
		}
		// The script cobra generates, sourced; bash-completion's
		// _get_comp_words_by_ref if the machine has it, else the shim of
		// it the script expects. compopt works only inside a completion
		// that bash itself started.
		script := `
source <("$PLUGDBG" completion bash) || exit 1
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
	source /usr/share/bash-completion/bash_completion
else
	_get_comp_words_by_ref() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }
fi
compopt() { :; }
COMP_WORDS=("$PLUGDBG" probe vol VolumeDriver.Li)
COMP_CWORD=3
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
__start_plugdbg
printf '%s\n' "${COMPREPLY[@]}"
`
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, "-c", script)
		cmd.Env = append(os.Environ(), "PLUGDBG="+plugdbgBin, "PLUGDBG_HOST="+d.host)
		stdout, stderr, code := runCommand(t, cmd)
		require.Equal(t, 0, code, "stderr:\n%s", stderr)
		assert.Equal(t, "VolumeDriver.List\n", stdout, "stderr:\n%s", stderr)
	})

	t.Run("the other shells' scripts", func(t *testing.T) {
		for _, sh := range []string{"zsh", "fish", "powershell"} {
			stdout, stderr, code := d.cli(t, "completion", sh)
			require.Equal(t, 0, code, "%s: %s", sh, stderr)
			assert.Contains(t, stdout, "__complete", sh)
		}
	})
}

// TestCompletionDockerTargets completes dockerd's plugins as docker:NAME
// where a verb takes them, from a private dockerd the daemon is bound to.
func TestCompletionDockerTargets(t *testing.T) {
	dk, d := startInterop(t)
	name := uniqueName("pdicomp")
	dk.ok(t, "plugin", "create", name, pluginDir("volume"))
	d.create(t, "own", "volume")

	assert.Equal(t, []string{"docker:" + name, "own"}, complete(t, d.host, "inspect", ""))
	assert.Equal(t, []string{"docker:" + name}, complete(t, d.host, "inspect", "docker:"))
	assert.Equal(t, []string{"docker:" + name}, complete(t, d.host, "inspect", "do"))
	assert.Equal(t, []string{"own"}, complete(t, d.host, "inspect", "o"))
	assert.Equal(t, []string{name}, complete(t, d.host, "usage", "--docker", ""), "--docker: the bare name")
	assert.Equal(t, []string{"own"}, complete(t, d.host, "enable", ""), "enable is for plugdbg's own plugins")
	assert.Empty(t, complete(t, d.host, "probe", "docker:"), "probe offers enabled plugins only")

	dk.ok(t, "plugin", "enable", name)
	assert.Equal(t, []string{"docker:" + name}, complete(t, d.host, "probe", ""))
	assert.Contains(t, complete(t, d.host, "probe", "docker:"+name, "VolumeDriver.M"), "VolumeDriver.Mount")
}
