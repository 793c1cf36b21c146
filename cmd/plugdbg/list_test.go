package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

const (
	idA = "4c2f0f5d6a0123456789abcdef0123456789abcdef0123456789abcdef012345"
	idB = "9f00ba4c1c0123456789abcdef0123456789abcdef0123456789abcdef012345"
)

func listFixture() []types.Inspect {
	return []types.Inspect{
		{
			Plugin: plugin.Plugin{
				ID: idA, Name: "vieux/sshfs:latest", PluginReference: "docker.io/vieux/sshfs:latest", Enabled: true,
				Config: plugin.Config{Description: "sshFS plugin for Docker"},
			},
			State: types.State{Status: types.StatusRunning, RestartCount: 2},
		},
		{
			Plugin: plugin.Plugin{
				ID: idB, Name: "local/a-plugin-with-a-long-name:v1", PluginReference: "local/a-plugin-with-a-long-name:v1",
				Config: plugin.Config{Description: "A description that is much longer than forty-five characters, surely"},
			},
			State: types.State{Status: types.StatusDisabled},
		},
	}
}

func TestPrintList(t *testing.T) {
	tests := []struct {
		name string
		opts listOptions
		in   []types.Inspect
		want string
	}{
		{
			name: "default table",
			in:   listFixture(),
			want: "" +
				"ID             NAME                                 DESCRIPTION                                     ENABLED\n" +
				"4c2f0f5d6a01   vieux/sshfs:latest                   sshFS plugin for Docker                         true\n" +
				"9f00ba4c1c01   local/a-plugin-with-a-long-name:v1   A description that is much longer than forty…   false\n",
		},
		{
			name: "empty list prints the header",
			in:   nil,
			want: "ID        NAME      DESCRIPTION   ENABLED\n",
		},
		{
			name: "table alone is the default table",
			opts: listOptions{format: "table"},
			in:   listFixture()[:1],
			want: "" +
				"ID             NAME                 DESCRIPTION               ENABLED\n" +
				"4c2f0f5d6a01   vieux/sshfs:latest   sshFS plugin for Docker   true\n",
		},
		{
			name: `table with \t as a shell passes it`,
			opts: listOptions{format: `table {{.Name}}\t{{.Enabled}}`},
			in:   listFixture()[:1],
			want: "NAME                 ENABLED\nvieux/sshfs:latest   true\n",
		},
		{
			name: "json: docker's fields and plugdbg's, one object a line",
			opts: listOptions{format: "json"},
			in:   listFixture()[:1],
			want: `{"Description":"sshFS plugin for Docker","Enabled":true,"ID":"4c2f0f5d6a01","Name":"vieux/sshfs:latest",` +
				`"PluginReference":"docker.io/vieux/sshfs:latest","Restarts":2,"Status":"running"}` + "\n",
		},
		{
			name: "the plugin's JSON fields, as docker's inspect templates",
			opts: listOptions{format: "{{.Id}} {{.Config.Description}} {{.State.Status}}"},
			in:   listFixture()[:1],
			want: idA + " sshFS plugin for Docker running\n",
		},
		{
			name: "quiet",
			opts: listOptions{quiet: true},
			in:   listFixture(),
			want: "4c2f0f5d6a01\n9f00ba4c1c01\n",
		},
		{
			name: "quiet, no-trunc",
			opts: listOptions{quiet: true, noTrunc: true},
			in:   listFixture(),
			want: idA + "\n" + idB + "\n",
		},
		{
			name: "quiet wins over format",
			opts: listOptions{quiet: true, format: "{{.Name}}"},
			in:   listFixture(),
			want: "4c2f0f5d6a01\n9f00ba4c1c01\n",
		},
		{
			name: "no-trunc",
			opts: listOptions{noTrunc: true, format: "{{.ID}} {{.Description}}"},
			in:   listFixture(),
			want: idA + " sshFS plugin for Docker\n" +
				idB + " A description that is much longer than forty-five characters, surely\n",
		},
		{
			name: "format without table: no header, no alignment",
			opts: listOptions{format: "{{.Name}}\t{{.Enabled}}"},
			in:   listFixture(),
			want: "vieux/sshfs:latest\ttrue\nlocal/a-plugin-with-a-long-name:v1\tfalse\n",
		},
		{
			name: "table format with plugdbg columns",
			opts: listOptions{format: "table {{.Name}}\t{{.Status}}\t{{.Restarts}}\t{{.PluginReference}}"},
			in:   listFixture(),
			want: "" +
				"NAME                                 STATUS     RESTARTS   PLUGIN REFERENCE\n" +
				"vieux/sshfs:latest                   running    2          docker.io/vieux/sshfs:latest\n" +
				"local/a-plugin-with-a-long-name:v1   disabled   0          local/a-plugin-with-a-long-name:v1\n",
		},
		{
			name: "template functions",
			opts: listOptions{format: `{{upper .Name}} {{json .Enabled}}`},
			in:   listFixture()[:1],
			want: "VIEUX/SSHFS:LATEST true\n",
		},
		{
			name: "description newlines removed, as docker does",
			opts: listOptions{format: "table {{.Name}}\t{{.Description}}"},
			in: []types.Inspect{{Plugin: plugin.Plugin{
				ID: idA, Name: "p:latest", Config: plugin.Config{Description: "first line\nsecond line\r\n"},
			}}},
			want: "" +
				"NAME       DESCRIPTION\n" +
				"p:latest   first linesecond line\n",
		},
		{
			name: "ellipsis counts characters, not bytes",
			opts: listOptions{format: "{{.Description}}"},
			in: []types.Inspect{{Plugin: plugin.Plugin{
				ID: idA, Name: "p:latest", Config: plugin.Config{Description: strings.Repeat("é", 46)},
			}}},
			want: strings.Repeat("é", 44) + "…\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, printList(&out, tt.in, tt.opts))
			assert.Equal(t, tt.want, out.String())
		})
	}
}

func TestPrintListErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		wantMsg string
	}{
		{name: "unparsable template", format: "{{.Name", wantMsg: "invalid --format template"},
		{name: "unparsable table template", format: "table {{.Name", wantMsg: "invalid --format template"},
		{name: "unknown function", format: "{{nope .Name}}", wantMsg: "invalid --format template"},
		{name: "unknown field", format: "{{.Nope}}", wantMsg: "format:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := printList(&out, listFixture(), listOptions{format: tt.format})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantMsg)
		})
	}
}

func TestParseListFilters(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name    string
		args    []string
		want    client.ListOptions
		wantErr string
	}{
		{name: "none", args: nil, want: client.ListOptions{}},
		{name: "enabled=true", args: []string{"enabled=true"}, want: client.ListOptions{Enabled: &yes}},
		{name: "enabled=1", args: []string{"enabled=1"}, want: client.ListOptions{Enabled: &yes}},
		{name: "enabled=false", args: []string{"enabled=false"}, want: client.ListOptions{Enabled: &no}},
		{name: "enabled=0", args: []string{"enabled=0"}, want: client.ListOptions{Enabled: &no}},
		{
			name: "capabilities accumulate", args: []string{"capability=volumedriver", "capability=authz"},
			want: client.ListOptions{Capability: []string{"volumedriver", "authz"}},
		},
		{
			name: "both", args: []string{"enabled=true", "capability=volumedriver"},
			want: client.ListOptions{Enabled: &yes, Capability: []string{"volumedriver"}},
		},
		{name: "no equals sign", args: []string{"enabled"}, wantErr: "bad format of filter (expected name=value): enabled"},
		{name: "bad enabled value", args: []string{"enabled=yes"}, wantErr: "invalid filter 'enabled=yes'"},
		{name: "empty enabled value", args: []string{"enabled="}, wantErr: "invalid filter 'enabled='"},
		{name: "unknown key", args: []string{"driver=local"}, wantErr: "invalid filter 'driver'"},
		{name: "error after a good filter", args: []string{"enabled=true", "nope=1"}, wantErr: "invalid filter 'nope'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseListFilters(tt.args)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestListCmdRejectsBadFilterWithoutDaemon checks that a bad filter is
// reported before the daemon is contacted.
func TestListCmdRejectsBadFilterWithoutDaemon(t *testing.T) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"--host", "unix:///nonexistent/plugdbg.sock", "ls", "--filter", "driver=x"})
	err := root.Execute()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid filter 'driver'")
	assert.NotContains(t, err.Error(), "plugdbg daemon")
	assert.Empty(t, out.String())
}
