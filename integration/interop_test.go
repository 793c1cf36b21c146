package integration

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

// dockerPluginRoot is dockerd's plugin exec root and legacy discovery dir:
// hard-coded in dockerd, so shared by every dockerd on the machine, and
// the tests use unique plugin names in it.
const dockerPluginRoot = "/run/docker/plugins"

// startInterop runs a private dockerd and a plugdbg daemon bound to it.
func startInterop(t *testing.T) (*dockerd, *daemon) {
	t.Helper()
	dk := startDockerd(t)
	d := startDaemonWith(t,
		"--docker-host", dk.host,
		"--docker-runc-root", filepath.Join(dk.dir, "exec", "runtime-runc", "plugins.moby"),
		"--docker-log", filepath.Join(dk.dir, "dockerd.log"))
	return dk, d
}

// uniqueName is a plugin name no other test (or dockerd) on the machine uses.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// busyboxImage imports a one-file image (a static busybox at /busybox) into
// dk as name.
func busyboxImage(t *testing.T, dk *dockerd, name string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	require.NoError(t, err, "busybox-static is needed (scripts/deps.sh)")
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		_ = tw.WriteHeader(&tar.Header{Name: "busybox", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(data)
		_ = tw.WriteHeader(&tar.Header{Name: "x/", Mode: 0o755, Typeflag: tar.TypeDir})
		pw.CloseWithError(tw.Close())
	}()
	cmd := exec.Command(dk.docker, "import", "-", name)
	cmd.Env = dockerEnv(dk.host, dk.cfgDir)
	cmd.Stdin = pr
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "docker import: %s", out)
}

// traceCmd is a running `plugdbg trace --json`.
type traceCmd struct {
	cmd        *exec.Cmd
	target     string
	records    chan types.TraceRecord
	started    chan string    // the SOCKET of each "tracing SOCKET" line
	stderrDone chan struct{}  // closed when stderr has ended
	read       sync.WaitGroup // the readers of stdout and stderr
}

// startTrace runs plugdbg trace on target and waits until it says its proxy
// is in place ("tracing SOCKET (Ctrl-C to stop)" on stderr), which it must
// say of sock: calls made on sock from then on are recorded. The trace's
// stderr goes on to the test's.
func startTrace(t *testing.T, d *daemon, target, sock string) *traceCmd {
	t.Helper()
	cmd := exec.Command(plugdbgBin, "trace", "--json", target)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	errOut, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	tr := &traceCmd{cmd: cmd, target: target, records: make(chan types.TraceRecord, 1024),
		started: make(chan string, 16), stderrDone: make(chan struct{})}
	tr.read.Add(2)
	go func() {
		defer tr.read.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r types.TraceRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				tr.records <- r
			}
		}
		close(tr.records)
	}()
	go func() {
		defer tr.read.Done()
		defer close(tr.stderrDone)
		sc := bufio.NewScanner(errOut)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, line)
			if s, ok := strings.CutPrefix(line, "tracing "); ok {
				if s, ok := strings.CutSuffix(s, " (Ctrl-C to stop)"); ok {
					select {
					case tr.started <- s:
					default:
					}
				}
			}
		}
	}()
	t.Cleanup(tr.stop)
	tr.waitStarted(t, sock)
	return tr
}

// waitStarted waits for the trace's next "tracing SOCKET" line, which must
// name sock: it comes once the proxy is in place, and again each time it
// follows the plugin's new socket after a restart.
func (tr *traceCmd) waitStarted(t *testing.T, sock string) {
	t.Helper()
	select {
	case s := <-tr.started:
		require.Equal(t, sock, s, "the socket the trace says it is on")
	case <-tr.stderrDone:
		require.FailNow(t, "plugdbg trace "+tr.target+" ended before its proxy was in place")
	case <-time.After(waitTimeout):
		require.FailNow(t, "plugdbg trace "+tr.target+" never said its proxy was in place")
	}
}

func (tr *traceCmd) stop() {
	if tr.cmd.ProcessState == nil {
		_ = tr.cmd.Process.Signal(os.Interrupt)
		tr.read.Wait() // Wait closes the pipes: read them to their end first
		_ = tr.cmd.Wait()
	}
}

// methods waits until the trace has seen every method in want (or
// waitTimeout passed), stops it and returns the methods it saw, in order.
func (tr *traceCmd) methods(want ...string) []string {
	var out []string
	missing := map[string]bool{}
	for _, m := range want {
		missing[m] = true
	}
	deadline := time.After(waitTimeout)
	for len(missing) > 0 {
		select {
		case r, ok := <-tr.records:
			if !ok {
				return out
			}
			out = append(out, r.Method)
			delete(missing, r.Method)
		case <-deadline:
			missing = nil
		}
	}
	tr.stop()
	for r := range tr.records {
		out = append(out, r.Method)
	}
	return out
}

// TestInteropDockerdUsesPublishedPlugins: dockerd finds plugdbg's plugins
// through legacy discovery once they are published, and uses them for
// volumes (with a container mounting one) and for networks with IPAM;
// plugdbg trace sees dockerd's calls, and plugdbg usage what holds them.
func TestInteropDockerdUsesPublishedPlugins(t *testing.T) {
	dk, d := startInterop(t)
	vol, netName, ipamName := uniqueName("pdivol"), uniqueName("pdinet"), uniqueName("pdiipam")
	for name, dir := range map[string]string{vol: "volume", netName: "network", ipamName: "ipam"} {
		_, stderr, code := d.cli(t, "create", name, pluginDir(dir))
		require.Equal(t, 0, code, stderr)
		_, stderr, code = d.cli(t, "publish", name)
		require.Equal(t, 0, code, stderr)
		_, stderr, code = d.cli(t, "enable", name)
		require.Equal(t, 0, code, stderr)
		link := filepath.Join(dockerPluginRoot, name+".sock")
		p := d.inspect(t, name)
		assert.Equal(t, link, p.State.Published, "inspect shows where the plugin is published")
		if dir == "volume" {
			// A proxy that shows dockerd Mountpoints on the host.
			fi, err := os.Lstat(link)
			require.NoError(t, err)
			assert.Equal(t, os.ModeSocket, fi.Mode().Type(), "a volume plugin is published through a proxy socket")
			continue
		}
		target, err := os.Readlink(link)
		require.NoError(t, err)
		assert.Equal(t, p.State.Socket, target)
	}

	// A trace from before dockerd's first call sees its connection.
	sock := d.inspect(t, vol).State.Socket
	tr := startTrace(t, d, vol, sock)
	busyboxImage(t, dk, "pdi-bb")
	dk.ok(t, "volume", "create", "-d", vol, "v1")
	assert.Contains(t, dk.ok(t, "volume", "ls", "--format", "{{.Driver}} {{.Name}}"), vol+" v1\n")
	// A container mounts the volume: the proxy answers dockerd with the
	// host side of the plugin's propagated mount, as dockerd would join it
	// for a managed plugin; what the container writes is in the plugin's
	// volume, and the next container reads it.
	dk.ok(t, "run", "--rm", "--network", "none", "-v", "v1:/x", "pdi-bb", "/busybox", "sh", "-c", "echo from-a-container > /x/f")
	volPlugin := d.inspect(t, vol)
	hostDir := filepath.Join(d.storeDir(volPlugin.ID), "propagated-mount", "v1")
	onHost, err := os.ReadFile(filepath.Join(hostDir, "f"))
	require.NoError(t, err, "the file in the plugin's propagated mount, on the host")
	assert.Equal(t, "from-a-container\n", string(onHost))
	assert.Equal(t, "from-a-container\n", dk.ok(t, "run", "--rm", "--network", "none", "-v", "v1:/x", "pdi-bb", "/busybox", "cat", "/x/f"))
	assert.Equal(t, hostDir+"\n", dk.ok(t, "volume", "inspect", "--format", "{{.Mountpoint}}", "v1"), "docker volume inspect shows the host path")

	// The volume dockerd created holds the plugin, as plugdbg usage shows.
	var u types.Usage
	stdout, stderr, code := d.cli(t, "usage", "--json", vol)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &u))
	assert.True(t, u.Traced)
	var held []string
	for _, h := range u.Holders {
		held = append(held, h.Kind+" "+h.Name)
	}
	assert.Contains(t, held, "volume v1", "usage: %s", stdout)
	dk.ok(t, "volume", "rm", "v1")
	eventually(t, func() bool {
		stdout, _, _ := d.cli(t, "usage", vol)
		return strings.Contains(stdout, "nothing holds it")
	}, waitTimeout, "usage empty after the container and the volume are gone")

	want := []string{"Plugin.Activate", "VolumeDriver.Create", "VolumeDriver.Mount", "VolumeDriver.Unmount", "VolumeDriver.Remove"}
	seen := tr.methods(want...)
	for _, m := range want {
		assert.Contains(t, seen, m, "dockerd's calls seen by plugdbg trace")
	}

	// Networks: a remote network driver with a remote IPAM driver.
	dk.ok(t, "network", "create", "-d", netName, "--ipam-driver", ipamName, "--subnet", "10.123.0.0/24", "n1")
	var nets []struct {
		Driver string
		IPAM   struct {
			Driver string
			Config []struct{ Subnet string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(dk.ok(t, "network", "inspect", "n1")), &nets))
	require.Len(t, nets, 1)
	assert.Equal(t, netName, nets[0].Driver)
	assert.Equal(t, ipamName, nets[0].IPAM.Driver)
	require.Len(t, nets[0].IPAM.Config, 1)
	assert.Equal(t, "10.123.0.0/24", nets[0].IPAM.Config[0].Subnet)
	dk.ok(t, "network", "rm", "n1")

	// Disable withdraws the link; rm of a disabled, published plugin too.
	_, stderr, code = d.cli(t, "disable", vol)
	require.Equal(t, 0, code, stderr)
	assert.NoFileExists(t, filepath.Join(dockerPluginRoot, vol+".sock"))
	assert.Empty(t, d.inspect(t, vol).State.Published)
	_, stderr, code = d.cli(t, "publish", "--off", netName)
	require.Equal(t, 0, code, stderr)
	assert.NoFileExists(t, filepath.Join(dockerPluginRoot, netName+".sock"))
	_, stderr, code = d.cli(t, "rm", "-f", ipamName)
	require.Equal(t, 0, code, stderr)
	assert.NoFileExists(t, filepath.Join(dockerPluginRoot, ipamName+".sock"))
}

// TestInteropDebugDockerdPlugins: plugdbg lists, probes, checks, traces,
// execs into, lists the processes of, reads the logs of, shows what holds
// and bundles dockerd's own managed plugins, as docker:NAME.
func TestInteropDebugDockerdPlugins(t *testing.T) {
	dk, d := startInterop(t)
	name := uniqueName("pdidk")
	dk.ok(t, "plugin", "create", name, pluginDir("volume"))
	dk.ok(t, "plugin", "set", name, "DEBUG=1")
	dk.ok(t, "plugin", "enable", name)
	id := strings.TrimSpace(dk.ok(t, "plugin", "inspect", "--format", "{{.Id}}", name))
	target := "docker:" + name

	stdout, stderr, code := d.cli(t, "ls", "--docker", "--no-trunc")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, id+"   "+name+":latest")

	p := d.inspect(t, target)
	assert.Equal(t, id, p.ID)
	assert.Equal(t, filepath.Join(dockerPluginRoot, id, "pdvol.sock"), p.State.Socket)

	// The trace goes first: dockerd keeps its connections to a plugin open.
	tr := startTrace(t, d, target, p.State.Socket)
	dk.ok(t, "volume", "create", "-d", name, "dv1")
	stdout, stderr, code = d.cli(t, "probe", target, "VolumeDriver.List")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `"dv1"`)
	seen := tr.methods("VolumeDriver.Create", "VolumeDriver.List")
	assert.Contains(t, seen, "VolumeDriver.Create", "dockerd's call")
	assert.Contains(t, seen, "VolumeDriver.List", "probe's call")

	stdout, stderr, code = d.cli(t, "check", target)
	assert.Equal(t, 0, code, "check: %s %s", stdout, stderr)

	// exec through dockerd's runc root; ls comes from the toolbox.
	stdout, stderr, code = d.cli(t, "exec", target, "ls", "/run/docker/plugins")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "pdvol.sock")
	stdout, stderr, code = d.cli(t, "exec", target, "sh", "-c", "echo $DEBUG")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1\n", stdout, "the plugin's settings are the exec's environment")
	stdout, stderr, code = d.cli(t, "top", target)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "/pdvol")

	// logs from dockerd's log: stdout at info, the DEBUG=1 request lines.
	eventually(t, func() bool {
		stdout, _, _ := d.cli(t, "logs", target, "--grep", "dv1")
		return strings.Contains(stdout, "VolumeDriver.Create") || strings.Contains(stdout, "name=dv1")
	}, waitTimeout, "the plugin's line about dv1 from dockerd's log")
	stdout, stderr, code = d.cli(t, "logs", "--tail", "1", "--stream", "stdout", target)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 1, strings.Count(stdout, "\n"), "--tail 1: %q", stdout)
	stdout, stderr, code = d.cli(t, "logs", "--stream", "stderr", target)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stdout, "listening", "stdout lines are not stderr")

	// usage: the volume, and the container using it.
	ctr := strings.TrimSpace(dkRunHolder(t, dk, "dv1"))
	stdout, stderr, code = d.cli(t, "usage", "--docker", name)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "volume   dv1")
	assert.Contains(t, stdout, "used by ")
	dk.ok(t, "rm", "-f", ctr)

	// bundle: one tar.gz of everything.
	files := bundleFiles(t, d, "--docker", name)
	for _, f := range []string{"manifest.json", "inspect.json", "config.json", "settings.json", "logs.txt", "usage.json", "top.json", "stats.json", "check.json", "errors.txt"} {
		assert.Contains(t, files, f)
	}
	assert.Contains(t, files["logs.txt"], "listening")
	assert.Contains(t, files["usage.json"], `"dv1"`)
	dk.ok(t, "volume", "rm", "dv1")
}

// dkRunHolder starts a container that keeps volume vol mounted.
func dkRunHolder(t *testing.T, dk *dockerd, vol string) string {
	t.Helper()
	busyboxImage(t, dk, "pdi-bb")
	return dk.ok(t, "run", "-d", "--network", "none", "-v", vol+":/x", "pdi-bb", "/busybox", "sleep", "300")
}

// bundleFiles runs plugdbg bundle and returns the tar.gz's files.
func bundleFiles(t *testing.T, d *daemon, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, append([]string{"bundle"}, args...)...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "bundle: %s", stderr.String())
	gz, err := gzip.NewReader(strings.NewReader(string(out)))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = string(b)
	}
	return files
}

// TestInteropBundleRedacts: a bundle of plugdbg's own plugin carries its
// state, logs, events and traced calls, without secret env values.
func TestInteropBundleRedacts(t *testing.T) {
	d := startDaemon(t)
	name := uniqueName("pdib")
	// The volume plugin with a secret setting.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755))
	bin, err := os.ReadFile(filepath.Join(pluginDir("volume"), "rootfs", "pdvol"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "pdvol"), bin, 0o755))
	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(pluginDir("volume"), "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg))
	cfg["env"] = append(cfg["env"].([]any), map[string]any{"name": "API_TOKEN", "settable": []string{"value"}, "value": "s3cr3t-default"})
	raw, _ = json.Marshal(cfg)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644))
	_, stderr, code := d.cli(t, "create", name, dir)
	require.Equal(t, 0, code, stderr)
	_, stderr, code = d.cli(t, "set", name, "API_TOKEN=hunter2xyz")
	require.Equal(t, 0, code, stderr)
	_, stderr, code = d.cli(t, "enable", name)
	require.Equal(t, 0, code, stderr)

	stdout, _, code := d.cli(t, "usage", name)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "no trace has run", "usage says when it cannot know")

	p := d.inspect(t, name)
	tr := startTrace(t, d, name, p.State.Socket)
	createVolume(t, p.State.Socket, "bv1")
	assert.Contains(t, tr.methods("VolumeDriver.Create"), "VolumeDriver.Create")

	files := bundleFiles(t, d, name)
	for _, f := range []string{"manifest.json", "inspect.json", "config.json", "settings.json", "logs.txt", "events.json", "usage.json", "trace.json", "top.json", "stats.json", "check.json", "errors.txt"} {
		assert.Contains(t, files, f)
	}
	assert.Contains(t, files["trace.json"], "VolumeDriver.Create")
	assert.Contains(t, files["events.json"], `"enable"`)
	assert.Contains(t, files["logs.txt"], "listening")
	assert.Contains(t, files["usage.json"], `"bv1"`)
	var rep struct{ Fail, Warn int }
	require.NoError(t, json.Unmarshal([]byte(files["check.json"]), &rep))
	assert.Zero(t, rep.Fail, files["check.json"])
	assert.Equal(t, "\n", files["errors.txt"])
	for f, content := range files {
		assert.NotContains(t, content, "hunter2xyz", "secret setting in %s", f)
		assert.NotContains(t, content, "s3cr3t-default", "secret default in %s", f)
	}
	assert.Contains(t, files["settings.json"], "API_TOKEN=<redacted>")
}
