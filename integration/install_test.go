package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// variantDir copies the built test plugin kind into a new plugin
// directory whose config.json is changed by edit.
func variantDir(t *testing.T, kind string, edit func(cfg map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(pluginDir(kind), "config.json"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(data, &cfg))
	edit(cfg)
	data, err = json.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
	require.NoError(t, exec.Command("cp", "-a", filepath.Join(pluginDir(kind), "rootfs"), dir).Run())
	return dir
}

// storeLeftovers lists what a failed install might have left in the store:
// plugin directories and staging directories.
func (d *daemon) storeLeftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"", "tmp"} {
		entries, err := os.ReadDir(filepath.Join(d.dataRoot, "plugins", sub))
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() && e.Name() != "tmp" {
				out = append(out, filepath.Join(sub, e.Name()))
			}
		}
	}
	return out
}

// ok runs a plugdbg command that must succeed and returns its stdout.
func (d *daemon) ok(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := d.cli(t, args...)
	require.Equal(t, 0, code, "plugdbg %q: stdout: %s\nstderr: %s", args, stdout, stderr)
	return stdout
}

// fails runs a plugdbg command that must fail and returns its stderr.
func (d *daemon) fails(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := d.cli(t, args...)
	require.NotEqual(t, 0, code, "plugdbg %q succeeded: %s", args, stdout)
	return stderr
}

// TestInstallPushUpgrade round-trips a plugin through a registry with the
// plugdbg CLI: push, install (the prompt refused without a terminal,
// then granted), settings, enable, upgrade keeping the settings.
func TestInstallPushUpgrade(t *testing.T) {
	d := startDaemon(t)
	reg, _ := testregistry.Start(t, nil)
	privileged := variantDir(t, "volume", func(cfg map[string]any) {
		cfg["linux"] = map[string]any{"capabilities": []string{"CAP_SYS_ADMIN"}}
	})
	v1 := reg + "/plugdbg/vol:v1"
	require.NoError(t, d.client.CreateFromDir(testCtx(t), v1, privileged))
	start := time.Now()
	out := d.ok(t, "push", v1)
	t.Logf("push took %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, out, "The push refers to repository ["+reg+"/plugdbg/vol]")
	assert.Regexp(t, `v1: digest: sha256:[0-9a-f]{64} size: \d+`, out)
	d.ok(t, "rm", v1)

	// No terminal to ask on: refused, and nothing is installed.
	stderr := d.fails(t, "install", v1)
	assert.Contains(t, stderr, "permission denied for plugin "+v1+": it asks for privileges and stdin is not a terminal")
	assert.Contains(t, stderr, "--grant-all-permissions")
	assert.Empty(t, d.storeLeftovers(t))

	start = time.Now()
	out = d.ok(t, "install", "--grant-all-permissions", "--alias", "myvol", v1, "DEBUG=1")
	t.Logf("install (pull, set, enable) took %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, out, "Download complete")
	assert.Contains(t, out, "Installed plugin "+v1+"\n")
	p := d.inspect(t, "myvol")
	assert.Equal(t, "myvol:latest", p.Name)
	assert.Equal(t, v1, p.PluginReference)
	assert.True(t, p.Enabled)
	assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)
	createVolume(t, p.State.Socket, "fromregistry")
	assert.Contains(t, volumeNames(t, p.State.Socket), "fromregistry")

	stderr = d.fails(t, "install", "--grant-all-permissions", "--alias", "myvol", v1)
	assert.Contains(t, stderr, "plugin myvol:latest already exists")

	// v2: another description, no privileges.
	v2dir := variantDir(t, "volume", func(cfg map[string]any) { cfg["description"] = "version two" })
	v2 := reg + "/plugdbg/vol:v2"
	require.NoError(t, d.client.CreateFromDir(testCtx(t), v2, v2dir))
	d.ok(t, "push", v2)
	d.ok(t, "rm", v2)

	stderr = d.fails(t, "upgrade", "--skip-remote-check", "myvol", v2)
	assert.Contains(t, stderr, "the plugin must be disabled before upgrading")
	d.ok(t, "disable", "myvol")
	stderr = d.fails(t, "upgrade", "myvol", v2)
	assert.Contains(t, stderr, "Plugin images do not match, are you sure?: stdin is not a terminal")
	out = d.ok(t, "upgrade", "--skip-remote-check", "myvol", v2)
	assert.Contains(t, out, "Upgrading plugin myvol:latest from "+v1+" to "+v2+"\n")
	assert.Contains(t, out, "Upgraded plugin myvol to "+v2+"\n")
	up := d.inspect(t, "myvol")
	assert.Equal(t, p.ID, up.ID)
	assert.Equal(t, "version two", up.Config.Description)
	assert.Equal(t, v2, up.PluginReference)
	assert.Equal(t, []string{"DEBUG=1"}, up.Settings.Env, "settings survive the upgrade")
	assert.NoDirExists(t, filepath.Join(d.storeDir(up.ID), "rootfs-old"))
	up = d.enable(t, "myvol")
	assert.Contains(t, volumeNames(t, up.State.Socket), "fromregistry", "propagated-mount data survives the upgrade")

	// Back to v1 needs its privileges granted again.
	d.ok(t, "disable", "myvol")
	stderr = d.fails(t, "upgrade", "--skip-remote-check", "myvol", v1)
	assert.Contains(t, stderr, "it asks for privileges and stdin is not a terminal")
	assert.Equal(t, "version two", d.inspect(t, "myvol").Config.Description, "a refused upgrade changes nothing")
	assert.Equal(t, []string{up.ID}, d.storeLeftovers(t), "only the plugin's own directory")
}

// TestInstallFailuresLeaveNothing: a corrupted blob, a registry that goes
// away mid-pull and a missing login fail the install and leave the store
// as it was; after `plugdbg login` the install works.
func TestInstallFailuresLeaveNothing(t *testing.T) {
	d := startDaemon(t)
	var corruptLayer, dropLayer atomic.Bool
	reg, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			isLayer := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
			if isLayer && (corruptLayer.Load() || dropLayer.Load()) {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if dropLayer.Load() && len(body) > 1000 { // the config blob is small
					hj, _ := w.(http.Hijacker)
					conn, _, _ := hj.Hijack()
					conn.Close()
					return
				}
				if corruptLayer.Load() && len(body) > 1000 {
					body[len(body)/2] ^= 0xff
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := reg + "/fail/vol:latest"
	d.create(t, ref, "volume")
	d.ok(t, "push", ref)
	d.ok(t, "rm", ref)

	corruptLayer.Store(true)
	stderr := d.fails(t, "install", ref)
	assert.Contains(t, stderr, "error verifying sha256 checksum")
	assert.Empty(t, d.storeLeftovers(t))
	corruptLayer.Store(false)

	dropLayer.Store(true)
	stderr = d.fails(t, "install", ref)
	assert.Contains(t, stderr, "fetch layer")
	assert.Empty(t, d.storeLeftovers(t))
	dropLayer.Store(false)

	// A registry that wants a login.
	authReg, _ := testregistry.Start(t, testregistry.BasicAuth("alice", "s3cret"))
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir) // the CLI reads the credentials from here
	private := authReg + "/private/vol:latest"
	d.create(t, private, "volume")
	stderr = d.fails(t, "push", private)
	assert.Regexp(t, `(?i)unauthorized`, stderr)
	stderr = d.fails(t, "login", "-u", "alice", "-p", "wrong", authReg)
	assert.Contains(t, stderr, "unauthorized: authentication required")
	assert.NoFileExists(t, filepath.Join(cfgDir, "config.json"))
	assert.Contains(t, d.ok(t, "login", "-u", "alice", "-p", "s3cret", authReg), "Login Succeeded")
	raw, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"`+authReg+`"`)
	d.ok(t, "push", private)
	d.ok(t, "rm", private)

	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials
	stderr = d.fails(t, "install", private)
	assert.Regexp(t, `(?i)unauthorized`, stderr)
	assert.Empty(t, d.storeLeftovers(t))
	t.Setenv("DOCKER_CONFIG", cfgDir)
	d.ok(t, "install", private)
	assert.True(t, d.inspect(t, private).Enabled)
}

// TestInstallWithDockerCLI: the stock docker CLI installs, pushes and
// upgrades through plugdbg's Engine API endpoints.
// It runs once with each docker CLI that dockerCLIs finds.
func TestInstallWithDockerCLI(t *testing.T) {
	for _, cli := range dockerCLIs(t) {
		t.Run(cli.name, func(t *testing.T) { testInstallWithDockerCLI(t, cli.path) })
	}
}

func testInstallWithDockerCLI(t *testing.T, dockerBin string) {
	d := startDaemon(t)
	reg, _ := testregistry.Start(t, nil)
	docker := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerBin, args...)
		cmd.Env = dockerEnv(d.host, t.TempDir())
		return runCommand(t, cmd)
	}
	ref := reg + "/dcli/vol:latest"
	d.create(t, ref, "volume")
	stdout, stderr, code := docker(t, "plugin", "push", ref)
	require.Equal(t, 0, code, "docker plugin push: %s %s", stdout, stderr)
	assert.Contains(t, stdout, "latest: digest: sha256:")
	d.ok(t, "rm", ref)

	stdout, stderr, code = docker(t, "plugin", "install", "--grant-all-permissions", "--alias", "dvol", ref, "DEBUG=1")
	require.Equal(t, 0, code, "docker plugin install: %s %s", stdout, stderr)
	assert.Contains(t, stdout, "Installed plugin "+ref)
	p := d.inspect(t, "dvol")
	assert.True(t, p.Enabled)
	assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)
	assert.Equal(t, ref, p.PluginReference)

	stdout, stderr, code = docker(t, "plugin", "upgrade", "dvol", ref)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "the plugin must be disabled before upgrading", stdout)
	d.ok(t, "disable", "dvol")
	stdout, stderr, code = docker(t, "plugin", "upgrade", "--grant-all-permissions", "dvol", ref)
	require.Equal(t, 0, code, "docker plugin upgrade: %s %s", stdout, stderr)
	assert.Contains(t, stdout, "Upgraded plugin dvol:latest to "+ref)

	stdout, stderr, code = docker(t, "plugin", "install", "--grant-all-permissions", reg+"/dcli/missing")
	assert.NotEqual(t, 0, code, stdout)
	assert.Contains(t, stderr, "Error response from daemon")
	assert.Equal(t, []string{p.ID}, d.storeLeftovers(t))
}

// dockerEnv is the environment for a docker CLI talking to host, with its
// own config directory.
func dockerEnv(host, cfgDir string) []string {
	env := []string{"DOCKER_HOST=" + host, "DOCKER_CONFIG=" + cfgDir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	return env
}
