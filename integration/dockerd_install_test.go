package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// dockerd is a private dockerd (its own roots and socket, no iptables, no
// bridge) and a docker CLI bound to it.
type dockerd struct {
	dir, host, cfgDir string
	docker            string
	cmd               *exec.Cmd
	done              chan struct{}
}

// startDockerd runs a private dockerd for the test, or skips the test when
// dockerd or the docker CLI is not installed. Cleanup removes its plugins,
// stops it and removes what it left.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	dockerdBin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Skip("dockerd not installed (scripts/deps.sh test installs it)")
	}
	dockerBin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed")
	}
	dir, err := os.MkdirTemp("", "pdk")
	require.NoError(t, err)
	d := &dockerd{dir: dir, host: "unix://" + filepath.Join(dir, "dk.sock"), cfgDir: filepath.Join(dir, "cfg"), docker: dockerBin, done: make(chan struct{})}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	require.NoError(t, err)
	d.cmd = exec.Command(dockerdBin, "--iptables=false", "--ip6tables=false", "--bridge=none",
		"-H", d.host, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dk.pid"))
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	require.NoError(t, d.cmd.Start())
	go func() { _ = d.cmd.Wait(); logf.Close(); close(d.done) }()
	t.Cleanup(func() { d.cleanup(t) })
	deadline := time.Now().Add(readyTimeout)
	for {
		if _, _, code := d.run(t, "version"); code == 0 {
			return d
		}
		select {
		case <-d.done:
			require.FailNow(t, "dockerd exited", "log:\n%s", d.log())
		default:
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "dockerd did not answer", "log:\n%s", d.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *dockerd) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	return tail(string(b), 16<<10)
}

// run runs the docker CLI against this dockerd.
func (d *dockerd) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.docker, args...)
	cmd.Env = dockerEnv(d.host, d.cfgDir)
	return runCommand(t, cmd)
}

// ok runs a docker command that must succeed and returns its stdout.
func (d *dockerd) ok(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := d.run(t, args...)
	require.Equal(t, 0, code, "docker %q: %s\n%s\ndockerd log:\n%s", args, stdout, stderr, d.log())
	return stdout
}

func (d *dockerd) cleanup(t *testing.T) {
	if out, _, code := d.run(t, "plugin", "ls", "-q"); code == 0 {
		for _, id := range strings.Fields(out) {
			d.run(t, "plugin", "rm", "-f", id)
		}
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	if t.Failed() {
		t.Logf("dockerd log:\n%s", d.log())
	}
	unmountUnder(t, d.dir)
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("cleanup dockerd dir: %v", err)
	}
}

// TestInstallInteropWithDockerd: a plugin pushed by plugdbg is installed
// and used by dockerd, and a plugin created and pushed by dockerd (whose
// diff_ids are compressed digests) is installed and used by plugdbg.
func TestInstallInteropWithDockerd(t *testing.T) {
	dk := startDockerd(t)
	d := startDaemon(t)
	reg, _ := testregistry.Start(t, nil)

	t.Run("plugdbg push, dockerd install", func(t *testing.T) {
		ref := reg + "/interop/fromplugdbg:v1"
		d.create(t, ref, "volume")
		d.ok(t, "push", ref)
		out := dk.ok(t, "plugin", "install", "--grant-all-permissions", ref)
		assert.Contains(t, out, "Installed plugin "+ref)
		assert.Equal(t, "true\n", dk.ok(t, "plugin", "inspect", "-f", "{{.Enabled}}", ref))
		dk.ok(t, "volume", "create", "-d", ref, "pdvolume")
		assert.Contains(t, dk.ok(t, "volume", "ls", "-q"), "pdvolume")
		dk.ok(t, "volume", "rm", "pdvolume")
	})

	t.Run("dockerd push, plugdbg install", func(t *testing.T) {
		ref := reg + "/interop/fromdockerd:v1"
		dk.ok(t, "plugin", "create", ref, pluginDir("volume"))
		dk.ok(t, "plugin", "push", ref)
		start := time.Now()
		d.ok(t, "install", "--grant-all-permissions", ref, "DEBUG=1")
		t.Logf("plugdbg install of dockerd's push took %s", time.Since(start).Round(time.Millisecond))
		p := d.inspect(t, ref)
		assert.True(t, p.Enabled)
		assert.Equal(t, []string{"DEBUG=1"}, p.Settings.Env)
		// dockerd ≥ 20.10 records the compressed digest as the diff_id.
		rf, err := name.ParseReference(ref)
		require.NoError(t, err)
		desc, err := remote.Get(rf)
		require.NoError(t, err)
		m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		require.NoError(t, err)
		require.NotNil(t, p.Config.Rootfs)
		require.Len(t, m.Layers, 1)
		assert.Equal(t, []string{m.Layers[0].Digest.String()}, p.Config.Rootfs.DiffIds)
		createVolume(t, p.State.Socket, "fromdockerd")
		assert.Contains(t, volumeNames(t, p.State.Socket), "fromdockerd")
	})
}
