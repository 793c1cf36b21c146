package client_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/internal/testregistry"
)

func TestPrompt(t *testing.T) {
	privs := plugin.Privileges{
		{Name: "network", Description: "permissions to access a network", Value: []string{"host"}},
		{Name: "capabilities", Description: "list of additional capabilities required", Value: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}},
	}
	const privileges = "Plugin \"vieux/sshfs\" is requesting the following privileges:\n" +
		" - network: [host]\n" +
		" - capabilities: [CAP_SYS_ADMIN CAP_NET_ADMIN]\n"
	const listing = privileges + "Do you grant the above permissions? [y/N] "
	tests := []struct {
		name    string
		in      string
		tty     bool
		want    bool
		wantOut string
		wantErr string
	}{
		{name: "y", in: "y\n", tty: true, want: true, wantOut: listing},
		{name: "Y with spaces", in: "  Y \n", tty: true, want: true, wantOut: listing},
		{name: "n", in: "n\n", tty: true, want: false, wantOut: listing},
		{name: "yes is not y", in: "yes\n", tty: true, want: false, wantOut: listing},
		{name: "empty line", in: "\n", tty: true, want: false, wantOut: listing},
		{name: "end of input", in: "", tty: true, want: false, wantOut: listing + "\n"},
		{name: "no tty", in: "y\n", tty: false, wantOut: privileges, wantErr: "permission denied for plugin vieux/sshfs: it asks for privileges and stdin is not a terminal to answer on to grant them (use --grant-all-permissions)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &client.Prompt{In: strings.NewReader(tt.in), Out: &out, TTY: tt.tty}
			ok, err := p.AcceptPrivileges("vieux/sshfs", privs)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, err.Error())
				assert.ErrorIs(t, err, client.ErrNoTerminal)
				assert.Equal(t, tt.wantOut, out.String(), "the privileges listed, nothing asked without a terminal")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
			assert.Equal(t, tt.wantOut, out.String())
		})
	}
}

func TestDisplay(t *testing.T) {
	stream := `{"status":"Pulling from p","id":"latest"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"abc"}
{"status":"Downloading","progressDetail":{"current":100,"total":100},"id":"abc"}
{"status":"Download complete","id":"abc"}
{"aux":{"Tag":"latest"}}
{"status":"Digest: sha256:00"}
`
	var out bytes.Buffer
	aux, err := (&client.Display{Out: &out}).Show(strings.NewReader(stream))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Tag":"latest"}`, string(*aux))
	assert.Equal(t, "latest: Pulling from p\nabc: Downloading\nabc: Download complete\nDigest: sha256:00\n", out.String())

	_, err = (&client.Display{Out: io.Discard}).Show(strings.NewReader(
		`{"status":"Downloading","id":"abc"}` + "\n" + `{"errorDetail":{"message":"boom"},"error":"boom"}` + "\n"))
	assert.EqualError(t, err, "boom")

	out.Reset()
	_, err = (&client.Display{Out: &out, TTY: true}).Show(strings.NewReader(stream))
	require.NoError(t, err)
	assert.Contains(t, out.String(), "abc: Downloading")
	assert.Contains(t, out.String(), "abc: Downloading [=====>                                             ]      10B/100B", "docker's progress bar")
	assert.Contains(t, out.String(), "\r\x1b[2Kabc: Downloading [==================================================>]     100B/100B\n", "redrawn in place, ended with the line")
}

const privilegedConfig = `{
  "Description": "privileged test plugin",
  "Entrypoint": ["/bin/plugin"],
  "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "p.sock"},
  "Network": {"Type": "host"},
  "Env": [{"Name": "DEBUG", "Settable": ["value"], "Value": "0"}]
}`

// TestInstallPushUpgrade runs the client's flows against the real API and
// manager (no containers) and go-containerregistry's registry.
func TestInstallPushUpgrade(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg, _ := testregistry.Start(t, nil)
	c := newDaemon(t)
	ctx := testCtx(t)
	ref := reg + "/test/p:1"

	require.NoError(t, c.CreateFromDir(ctx, ref, pluginDir(t, privilegedConfig)))
	var out bytes.Buffer
	res, err := c.Push(ctx, client.PushOptions{Name: ref, Progress: &client.Display{Out: &out}})
	require.NoError(t, err)
	assert.Equal(t, "1", res.Tag)
	assert.Contains(t, out.String(), "1: digest: "+res.Digest)
	require.NoError(t, c.Remove(ctx, ref, false))

	privs, err := c.Privileges(ctx, ref, "")
	require.NoError(t, err)
	assert.Equal(t, plugin.Privileges{{Name: "network", Description: "permissions to access a network", Value: []string{"host"}}}, privs)

	var asked []string
	refuse := func(remote string, p plugin.Privileges) (bool, error) {
		asked = append(asked, remote)
		return false, nil
	}
	_, err = c.Install(ctx, client.InstallOptions{Remote: ref, Disable: true, Accept: refuse})
	assert.EqualError(t, err, "permission denied while installing plugin "+ref)
	assert.Equal(t, []string{ref}, asked)
	list, err := c.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)

	// The enable fails (this daemon runs no containers): the plugin goes again.
	_, err = c.Install(ctx, client.InstallOptions{Remote: ref, GrantAll: true, Accept: refuse})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the plugin was removed again")
	list, err = c.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Len(t, asked, 1, "--grant-all-permissions asks nothing")

	name, err := c.Install(ctx, client.InstallOptions{Remote: ref, Alias: "mine", Disable: true, GrantAll: true, Args: []string{"DEBUG=1"}})
	require.NoError(t, err)
	assert.Equal(t, "mine:latest", name)
	p, err := c.Inspect(ctx, "mine")
	require.NoError(t, err)
	assert.Equal(t, ref, p.PluginReference)
	assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)
	assert.False(t, p.Enabled)

	_, err = c.Install(ctx, client.InstallOptions{Remote: ref, Alias: "other", Disable: true, GrantAll: true, Args: []string{"NOPE=1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `setting "NOPE" not found`)
	_, err = c.Inspect(ctx, "other")
	assert.True(t, client.IsNotFound(err), "a failed set removes the plugin: %v", err)

	// Upgrade to an image without privileges, to another remote.
	ref2 := reg + "/test/p:2"
	require.NoError(t, c.CreateFromDir(ctx, ref2, pluginDir(t, testConfig)))
	_, err = c.Push(ctx, client.PushOptions{Name: ref2})
	require.NoError(t, err)
	var questions []string
	no := func(q string) (bool, error) { questions = append(questions, q); return false, nil }
	_, err = c.Upgrade(ctx, client.UpgradeOptions{Name: "mine", Remote: ref2, Confirm: no})
	assert.EqualError(t, err, "plugin upgrade has been cancelled")
	assert.Equal(t, []string{"Plugin images do not match, are you sure?"}, questions)
	out.Reset()
	_, err = c.Upgrade(ctx, client.UpgradeOptions{Name: "mine", Remote: ref2, SkipRemoteCheck: true, Progress: &client.Display{Out: &out}})
	require.NoError(t, err)
	assert.Contains(t, out.String(), "Upgrading plugin mine:latest from "+ref+" to "+ref2+"\n")
	p2, err := c.Inspect(ctx, "mine")
	require.NoError(t, err)
	assert.Equal(t, p.ID, p2.ID)
	assert.Equal(t, "test plugin", p2.Config.Description)
	assert.Equal(t, ref2, p2.PluginReference)
	assert.Equal(t, []string{"DEBUG=1"}, p2.Settings.Env)

	// The privileges the daemon checks are those of the new image.
	_, err = c.Upgrade(ctx, client.UpgradeOptions{Name: "mine", Remote: ref, SkipRemoteCheck: true, Accept: refuse})
	assert.EqualError(t, err, "permission denied while upgrading plugin "+ref)
}
