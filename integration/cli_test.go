package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLI runs the plugdbg binary against a daemon with one enabled and one
// disabled plugin.
func TestCLI(t *testing.T) {
	d := startDaemon(t)
	vol := d.create(t, "vol", "volume")
	crash := d.create(t, "crash", "crasher")
	d.enable(t, "vol")

	// lines joins ls output lines; ls sorts by name: crash, then vol.
	lines := func(ids ...string) string { return strings.Join(ids, "\n") + "\n" }
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string   // exact, unless wantOut or wantCode are set
		wantOut    []string // substrings of stdout
		wantErr    []string // substrings of stderr
	}{
		{
			name:       "ls format",
			args:       []string{"ls", "--format", "{{.Name}} {{.Enabled}}"},
			wantStdout: "crash:latest false\nvol:latest true\n",
		},
		{
			name: "ls table",
			args: []string{"ls"},
			wantOut: []string{
				"ID             NAME           DESCRIPTION                                     ENABLED\n",
				vol.ID[:12] + "   vol:latest     plugdbg test volume plugin: one directory pe…   true\n",
				crash.ID[:12] + "   crash:latest   plugdbg test plugin that crashes on demand      false\n",
			},
		},
		{
			name:       "ls quiet",
			args:       []string{"ls", "-q"},
			wantStdout: lines(crash.ID[:12], vol.ID[:12]),
		},
		{
			name:       "ls quiet no-trunc",
			args:       []string{"ls", "-q", "--no-trunc"},
			wantStdout: lines(crash.ID, vol.ID),
		},
		{
			name:    "ls no-trunc",
			args:    []string{"ls", "--no-trunc"},
			wantOut: []string{vol.ID + "   vol:latest", "plugdbg test volume plugin: one directory per volume under /data   true\n"},
		},
		{
			name:       "ls filter enabled=true",
			args:       []string{"ls", "--filter", "enabled=true", "--format", "{{.Name}}"},
			wantStdout: "vol:latest\n",
		},
		{
			name:       "ls filter enabled=false",
			args:       []string{"ls", "-f", "enabled=false", "--format", "{{.Name}}"},
			wantStdout: "crash:latest\n",
		},
		{
			name:       "ls filter capability",
			args:       []string{"ls", "--filter", "capability=volumedriver", "--format", "{{.Name}}"},
			wantStdout: "crash:latest\nvol:latest\n",
		},
		{
			name: "ls filter other capability",
			args: []string{"ls", "--filter", "capability=networkdriver", "-q"},
		},
		{
			name:     "ls bad filter",
			args:     []string{"ls", "--filter", "color=red"},
			wantCode: 1,
			wantErr:  []string{"invalid filter 'color'"},
		},
		{
			name:       "inspect format",
			args:       []string{"inspect", "--format", "{{.Name}} {{.Enabled}} {{.State.Status}} {{.Config.Interface.Socket}}", "vol"},
			wantStdout: "vol:latest true running pdvol.sock\n",
		},
		{
			name:       "inspect by ID prefix",
			args:       []string{"inspect", "--format", "{{.ID}} {{.Name}}", crash.ID[:7]},
			wantStdout: crash.ID + " crash:latest\n",
		},
		{
			name:       "inspect by full ID",
			args:       []string{"inspect", "-f", "{{.Name}}", vol.ID},
			wantStdout: "vol:latest\n",
		},
		{
			name:       "inspect by name with tag",
			args:       []string{"inspect", "-f", "{{.ID}}", "crash:latest"},
			wantStdout: crash.ID + "\n",
		},
		{
			name:     "inspect unknown",
			args:     []string{"inspect", "nope"},
			wantCode: 1,
			wantErr:  []string{`Error: plugin "nope" not found`},
		},
		{
			name:     "enable unknown",
			args:     []string{"enable", "nope"},
			wantCode: 1,
			wantErr:  []string{`plugin "nope" not found`},
		},
		{
			name:     "rm unknown",
			args:     []string{"rm", "nope"},
			wantCode: 1,
			wantErr:  []string{`plugin "nope" not found`, "could not remove nope"},
		},
		{
			name:     "enable negative timeout",
			args:     []string{"enable", "--timeout", "-1", "crash"},
			wantCode: 1,
			wantErr:  []string{"negative timeout -1 is invalid"},
		},
		{
			name:    "version",
			args:    []string{"version"},
			wantOut: []string{"Client:\n Version:\t", "Server:\n Version:\t", " API version:\t1."},
		},
		{
			name:    "completion bash",
			args:    []string{"completion", "bash"},
			wantOut: []string{"# bash completion", "__start_plugdbg", "complete -o default -F __start_plugdbg plugdbg"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := d.cli(t, tt.args...)
			assert.Equal(t, tt.wantCode, code, "exit status; stderr: %s", stderr)
			if tt.wantStdout != "" || (tt.wantOut == nil && tt.wantCode == 0) {
				assert.Equal(t, tt.wantStdout, stdout)
			}
			for _, s := range tt.wantOut {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.wantErr {
				assert.Contains(t, stderr, s)
			}
			if tt.wantCode == 0 {
				assert.Empty(t, stderr)
			}
		})
	}

	t.Run("no daemon", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "none.sock")
		stdout, stderr, code := cli(t, "unix://"+sock, "ls")
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "cannot connect to the plugdbg daemon at unix://"+sock)
		assert.Contains(t, stderr, "is plugdbgd running")
	})

	t.Run("PLUGDBG_HOST is overridden by -H", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "none.sock")
		stdout, stderr, code := cli(t, "unix://"+sock, "-H", d.host, "ls", "-q", "--no-trunc")
		assert.Equal(t, 0, code, stderr)
		assert.Equal(t, lines(crash.ID, vol.ID), stdout)
	})

	// Nothing above changed the plugins.
	assert.Equal(t, "running", d.inspect(t, "vol").State.Status)
	assert.False(t, d.inspect(t, "crash").Enabled)
}

// TestDaemonCommand: `plugdbg daemon` hands its arguments to the plugdbgd
// beside it, saying so on stderr, and says where the daemon went when
// there is none beside it or on PATH.
func TestDaemonCommand(t *testing.T) {
	stdout, stderr, code := runCommand(t, exec.Command(plugdbgBin, "daemon", "--version"))
	assert.Equal(t, 0, code, stderr)
	assert.Regexp(t, `^plugdbgd version \S+, API version \S+\n$`, stdout)
	assert.Equal(t, "plugdbg daemon: the daemon is plugdbgd now; running "+plugdbgdBin+"\n", stderr)

	stdout, stderr, code = runCommand(t, exec.Command(plugdbgBin, "-H", "unix:///nonexistent/x.sock", "daemon", "--bogus"))
	assert.Equal(t, 1, code, "plugdbgd's exit status")
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "unknown flag: --bogus", "plugdbgd's own flag check")

	alone := filepath.Join(t.TempDir(), "plugdbg")
	data, err := os.ReadFile(plugdbgBin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(alone, data, 0o755))
	cmd := exec.Command(alone, "daemon")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
	_, stderr, code = runCommand(t, cmd)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the daemon is its own binary now, plugdbgd, and there is none at "+filepath.Join(filepath.Dir(alone), "plugdbgd")+" nor on PATH")
}
