package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/version"
)

// TestDockerCLI drives the daemon with the stock docker CLI, which must see
// an Engine whose plugin endpoints behave as Docker's. Expected texts are
// Docker's (docs/reference docker-plugins.md §1.5, §2.3-2.5).
// It runs once with each docker CLI that dockerCLIs finds.
func TestDockerCLI(t *testing.T) {
	for _, cli := range dockerCLIs(t) {
		t.Run(cli.name, func(t *testing.T) { testDockerCLI(t, cli) })
	}
}

func testDockerCLI(t *testing.T, cli dockerCLI) {
	dockerBin := cli.path
	d := startDaemon(t)
	cfgDir := t.TempDir()
	docker := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerBin, args...)
		env := []string{"DOCKER_HOST=" + d.host, "DOCKER_CONFIG=" + cfgDir}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DOCKER_") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		return runCommand(t, cmd)
	}
	// ok runs a docker command that must succeed and returns its stdout.
	ok := func(t *testing.T, args ...string) string {
		t.Helper()
		stdout, stderr, code := docker(t, args...)
		require.Equal(t, 0, code, "docker %q: %s", args, stderr)
		return stdout
	}
	// fails runs a docker command that must fail with Docker's error text.
	fails := func(t *testing.T, want string, args ...string) {
		t.Helper()
		stdout, stderr, code := docker(t, args...)
		assert.Equal(t, 1, code, "docker %q: exit status; stdout: %s", args, stdout)
		assert.Contains(t, stderr, "Error response from daemon: "+want, "docker %q", args)
	}
	type dockerInspect struct {
		ID      string `json:"Id"`
		Name    string
		Enabled bool
		Config  struct {
			Description string
			Interface   struct {
				Socket string
				Types  []string
			}
		}
		Settings struct {
			Env             []string
			Args            []string
			Mounts, Devices []any
		}
	}
	inspect := func(t *testing.T, ref string) dockerInspect {
		t.Helper()
		var out []dockerInspect
		require.NoError(t, json.Unmarshal([]byte(ok(t, "plugin", "inspect", ref)), &out))
		require.Len(t, out, 1, "docker plugin inspect prints a JSON array of one plugin")
		return out[0]
	}

	assert.Equal(t, "vol\n", ok(t, "plugin", "create", "vol", pluginDir("volume")))
	id := d.inspect(t, "vol").ID

	// ls: Docker's table, the same as plugdbg's own ls prints.
	ls := ok(t, "plugin", "ls")
	assert.Equal(t,
		"ID             NAME         DESCRIPTION                                     ENABLED\n"+
			id[:12]+"   vol:latest   plugdbg test volume plugin: one directory pe…   false\n", ls)
	own := d.ok(t, "ls")
	assert.Equal(t, own, ls, "docker plugin ls and plugdbg ls differ")
	assert.Equal(t, id+"\n", ok(t, "plugin", "ls", "-q", "--no-trunc"))

	// inspect: a JSON array with Docker's keys and the initial settings.
	raw := ok(t, "plugin", "inspect", "vol")
	var generic []map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &generic))
	require.Len(t, generic, 1)
	for _, key := range []string{"Id", "Name", "Enabled", "Config", "Settings", "PluginReference"} {
		assert.Contains(t, generic[0], key)
	}
	p := inspect(t, "vol")
	assert.Equal(t, id, p.ID)
	assert.Equal(t, "vol:latest", p.Name)
	assert.False(t, p.Enabled)
	assert.Equal(t, "pdvol.sock", p.Config.Interface.Socket)
	assert.Equal(t, []string{"docker.volumedriver/1.0"}, p.Config.Interface.Types)
	assert.Equal(t, []string{"DEBUG=0"}, p.Settings.Env)
	assert.NotNil(t, p.Settings.Args, "Settings.Args must be [] rather than null")
	assert.Equal(t, "vol:latest false\n", ok(t, "plugin", "inspect", "--format", "{{.Name}} {{.Enabled}}", id[:12]))

	// enable, then Docker's refusals for an enabled plugin.
	assert.Equal(t, "vol\n", ok(t, "plugin", "enable", "vol"))
	assert.True(t, inspect(t, "vol").Enabled)
	assert.Equal(t, "running", d.inspect(t, id).State.Status)
	assert.Contains(t, ok(t, "plugin", "ls"), "vol:latest   plugdbg test volume plugin: one directory pe…   true\n")
	fails(t, "plugin already enabled: plugin vol:latest is enabled", "plugin", "enable", "vol")
	fails(t, "plugin vol:latest is enabled", "plugin", "rm", "vol")
	fails(t, "cannot set on an active plugin, disable plugin before setting", "plugin", "set", "vol", "DEBUG=1")

	// disable, set.
	assert.Equal(t, "vol\n", ok(t, "plugin", "disable", "vol"))
	assert.False(t, inspect(t, "vol").Enabled)
	fails(t, "plugin is already disabled: plugin vol:latest found but disabled", "plugin", "disable", "vol")
	assert.Empty(t, ok(t, "plugin", "set", "vol", "DEBUG=1"))
	assert.Equal(t, []string{"DEBUG=1"}, inspect(t, "vol").Settings.Env)
	fails(t, `setting "NOPE" not found in the plugin configuration`, "plugin", "set", "vol", "NOPE=1")
	fails(t, "invalid format, must be <name>[.<field>][=<value>]", "plugin", "set", "vol", "=1")
	fails(t, `"DEBUG.source" is not settable`, "plugin", "set", "vol", "DEBUG.source=1")
	assert.Equal(t, []string{"DEBUG=1"}, inspect(t, "vol").Settings.Env, "failed sets changed the settings")
	if cli.major < 23 {
		// Before 23.0 the CLI words a 404 of inspect itself.
		_, stderr, code := docker(t, "plugin", "inspect", "nope")
		assert.Equal(t, 1, code)
		assert.Equal(t, "Error: No such plugin: nope\n", stderr)
	} else {
		fails(t, `plugin "nope" not found`, "plugin", "inspect", "nope")
	}
	fails(t, "plugin vol:latest already exists", "plugin", "create", "vol", pluginDir("volume"))

	// The setting reaches the plugin: DEBUG=1 logs request details.
	ok(t, "plugin", "enable", "vol")
	createVolume(t, d.inspect(t, id).State.Socket, "dbg")
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "VolumeDriver.Create", "name=dbg", "opts=", "plugin="+id)) > 0
	}, waitTimeout, "DEBUG=1 line with opts= for VolumeDriver.Create in the daemon log")

	// rm -f removes an enabled plugin.
	assert.Equal(t, "vol\n", ok(t, "plugin", "rm", "-f", "vol"))
	assert.Equal(t, "", ok(t, "plugin", "ls", "-q"))
	assert.NoDirExists(t, d.storeDir(id))
	assertMonitorGone(t, d, id)

	ver := ok(t, "version")
	t.Logf("%s version, against plugdbg:\n%s", dockerBin, ver)
	assert.Contains(t, ver, "Server: plugdbg\n")
	assert.Contains(t, ver, "  Version:          "+version.Version+"\n")
	assert.Contains(t, ver, "  API version:      "+version.APIVersion+" (minimum version "+version.MinAPIVersion+")\n")
}

// dockerCLI is one docker CLI binary, with a subtest name and the major
// number of its version.
type dockerCLI struct {
	name, path string
	major      int
}

// dockerCLIs returns the docker CLIs that the Engine-API interop tests run
// with: the one first on PATH, which is what a user's shell runs, and the
// one scripts/deps.sh installs (Debian's docker.io, /usr/bin/docker), once
// each when they are the same file. Machine images often carry a newer CLI
// earlier on PATH; users have either, and each speaks its own API version
// to the daemon. It skips the test when there is none and logs the
// version of each.
func dockerCLIs(t *testing.T) []dockerCLI {
	t.Helper()
	var paths []string
	if p, err := exec.LookPath("docker"); err == nil {
		paths = append(paths, p)
	}
	paths = append(paths, debianDockerCLI)
	var out []dockerCLI
	seen := map[string]bool{}
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		cmd := exec.Command(p, "--version")
		cmd.Env = dockerEnv("unix:///nonexistent", t.TempDir())
		v, err := cmd.Output()
		if err != nil {
			t.Logf("%s --version: %v", p, err)
			continue
		}
		version := strings.TrimSpace(string(v))
		t.Logf("docker CLI %s: %s", p, version)
		// "Docker version 20.10.24+dfsg1, build 297e128"
		f := strings.Fields(strings.SplitN(version, ",", 2)[0])
		require.Len(t, f, 3, "%s --version: %q", p, version)
		major, err := strconv.Atoi(strings.SplitN(f[2], ".", 2)[0])
		require.NoError(t, err, "%s --version: %q", p, version)
		out = append(out, dockerCLI{name: "docker-" + f[2], path: p, major: major})
	}
	if len(out) == 0 {
		t.Skip("no docker CLI on PATH or at " + debianDockerCLI + " (scripts/deps.sh test installs one)")
	}
	return out
}

// debianDockerCLI is where Debian's docker.io package, which scripts/deps.sh
// installs, puts the docker CLI.
const debianDockerCLI = "/usr/bin/docker"
