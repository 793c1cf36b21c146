package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/dockerobserve"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// dockerObserveHelpers lists the recording points' helpers of d's
// observed docker plugins (their files are in d's exec root).
func dockerObserveHelpers(d *daemon) []int {
	var out []int
	for _, p := range processes() {
		if len(p.args) > 2 && p.args[1] == dockerobserve.Argv1 && under(p.args[2], d.execRoot) {
			out = append(out, p.pid)
		}
	}
	return out
}

// scrapeCalls reads d's metrics and returns the value of
// plugdbg_plugin_calls_total for plugin, method and status ("" if absent).
func scrapeCalls(t *testing.T, d *daemon, plugin, method, status string) string {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr(t, d) + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^plugdbg_plugin_calls_total\{method=%q,plugin=%q,status=%q\} ([0-9]+)$`, method, plugin, status))
	if m := re.FindStringSubmatch(string(body)); m != nil {
		return m[1]
	}
	return ""
}

// TestDockerObserve: a docker:NAME plugin is observed through a helper of
// the daemon's: calls on dockerd's plugin socket are counted exactly,
// including those made while plugdbgd was killed (the plugin stays
// reachable), and dockerd's own; the metrics carry them with the plugin
// label docker:NAME; observe --off puts dockerd's socket back, and dockerd
// goes on using the plugin once the helper is gone.
func TestDockerObserve(t *testing.T) {
	dk := startDockerd(t)
	args := []string{
		"--docker-host", dk.host,
		"--docker-runc-root", filepath.Join(dk.dir, "exec", "runtime-runc", "plugins.moby"),
		"--docker-log", filepath.Join(dk.dir, "dockerd.log"),
		"--metrics-addr", "127.0.0.1:0",
	}
	d := startDaemonWith(t, args...)
	name := uniqueName("pdiobs")
	dk.ok(t, "plugin", "create", name, pluginDir("volume"))
	dk.ok(t, "plugin", "enable", name)
	target := "docker:" + name
	p := d.inspect(t, target)
	sock := p.State.Socket
	require.Equal(t, filepath.Join(dockerPluginRoot, p.ID, "pdvol.sock"), sock)
	dockerIno := socketInode(t, sock)

	d.ok(t, "observe", target)
	in := d.inspect(t, target)
	require.True(t, in.State.Observed)
	require.True(t, in.State.Recording, "observe returns with the point in place: %s", in.State.ObserveError)
	pointIno := socketInode(t, sock)
	assert.NotEqual(t, dockerIno, pointIno, "the point's socket has the path")
	assert.Equal(t, dockerIno, socketInode(t, observe.AsidePath(sock)), "dockerd's plugin socket is moved aside")
	require.Len(t, dockerObserveHelpers(d), 1)

	const n, m = 37, 24
	pc := plainClient(sock)
	plainCalls(t, pc, n)
	pc.CloseIdleConnections()
	before, by := d.calls(t, target)
	assert.True(t, before.Observed)
	assert.True(t, before.Recording)
	assert.Equal(t, p.ID, before.Plugin)
	assert.Equal(t, uint64(n), by["VolumeDriver.List"].Count)
	assert.Equal(t, map[string]uint64{"200": n}, by["VolumeDriver.List"].Statuses)

	// plugdbgd is killed: the plugin answers through the point, which
	// counts on.
	d.kill9()
	probeCalls(t, d.host, sock, m/2)
	pc = plainClient(sock)
	plainCalls(t, pc, m/2)
	pc.CloseIdleConnections()
	d.startWith(args...)
	after, by := d.calls(t, target)
	assert.Equal(t, before.Since, after.Since, "the same helper's counters")
	assert.Equal(t, uint64(n+m), by["VolumeDriver.List"].Count, "the calls made while no daemon ran are counted")
	assert.Equal(t, map[string]uint64{"200": n + m}, by["VolumeDriver.List"].Statuses)
	assert.True(t, d.inspect(t, target).State.Recording)
	assert.Equal(t, socketInode(t, sock), pointIno, "the restarted daemon left the point in place")
	assert.Equal(t, fmt.Sprint(n+m), scrapeCalls(t, d, target+":latest", "VolumeDriver.List", "200"), "the metrics label is docker:NAME")

	// dockerd's own calls go through the point too.
	dk.ok(t, "volume", "create", "-d", name, "obsv1")
	_, by = d.calls(t, target)
	assert.GreaterOrEqual(t, by["VolumeDriver.Create"].Count, uint64(1), "dockerd's VolumeDriver.Create is counted")

	// --off: dockerd's socket is back at its path.
	d.ok(t, "observe", "--off", target)
	assert.Equal(t, dockerIno, socketInode(t, sock), "dockerd's plugin socket is back")
	_, err := os.Lstat(observe.AsidePath(sock))
	assert.True(t, os.IsNotExist(err), "nothing is left aside")
	in = d.inspect(t, target)
	assert.False(t, in.State.Observed)
	assert.False(t, in.State.Recording)
	off, _ := d.calls(t, target)
	assert.False(t, off.Observed)
	assert.Contains(t, dk.ok(t, "volume", "ls", "-q"), "obsv1")
	// The helper goes once dockerd's kept-alive connection through it
	// ends (it closes it within 10 s); dockerd dials the plugin again.
	eventually(t, func() bool { return len(dockerObserveHelpers(d)) == 0 }, waitTimeout, "the ended helper exits")
	dk.ok(t, "volume", "create", "-d", name, "obsv2")
	out := dk.ok(t, "volume", "ls", "-q")
	assert.Contains(t, out, "obsv1")
	assert.Contains(t, out, "obsv2")
	assert.Equal(t, dockerIno, socketInode(t, sock))
	dk.ok(t, "volume", "rm", "obsv1", "obsv2")
	assert.NotContains(t, strings.Join(dockerObserveFiles(t, d), " "), p.ID[:32], "no helper file is left")
}

// dockerObserveFiles lists the files of d's docker plugins' helpers.
func dockerObserveFiles(t *testing.T, d *daemon) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.execRoot, "docker-observe"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestDockerObserveFollowsDockerd: an observed docker plugin stays observed
// when dockerd restarts it (a crash: its directory and socket are made
// anew), and when it is disabled and enabled again; a plugin removed from
// dockerd is no longer observed.
func TestDockerObserveFollowsDockerd(t *testing.T) {
	dk, d := startInterop(t)
	name := uniqueName("pdiobf")
	dk.ok(t, "plugin", "create", name, pluginDir("volume"))
	dk.ok(t, "plugin", "enable", name)
	target := "docker:" + name
	d.ok(t, "observe", target)
	p := d.inspect(t, target)
	sock := p.State.Socket
	plainCalls(t, plainClient(sock), 3)

	// The plugin crashes; dockerd starts it again at once, in a new
	// directory with a new socket, and the helper puts the point on it.
	pid := dockerPluginPid(t, d, target)
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	var c types.CallStats
	eventuallyShow(t, func() bool {
		c, _ = d.calls(t, target)
		_, err := os.Lstat(observe.AsidePath(sock))
		now := dockerPluginPid(t, d, target)
		return c.Recording && err == nil && now != 0 && now != pid
	}, waitTimeout, func() string { return fmt.Sprintf("the point on the restarted plugin's socket: %+v", c) })
	pc := plainClient(sock)
	plainCalls(t, pc, 2)
	pc.CloseIdleConnections()
	_, by := d.calls(t, target)
	assert.Equal(t, uint64(5), by["VolumeDriver.List"].Count, "the helper's counters go on across the plugin's runs")

	// Disabled and enabled again with docker: the daemon ends the helper
	// (dockerd's event), and starts a new one.
	dk.ok(t, "plugin", "disable", name)
	eventually(t, func() bool { return len(dockerObserveHelpers(d)) == 0 }, waitTimeout, "the disable ends the helper")
	in := d.inspect(t, target)
	assert.True(t, in.State.Observed, "still observed")
	assert.False(t, in.State.Recording)
	dk.ok(t, "plugin", "enable", name)
	eventually(t, func() bool { return d.inspect(t, target).State.Recording }, waitTimeout, "the enable puts the point back")
	plainCalls(t, plainClient(sock), 1)
	_, by = d.calls(t, target)
	assert.Equal(t, uint64(1), by["VolumeDriver.List"].Count, "a new helper counts from zero")

	// Removed from dockerd: no longer observed, no helper left.
	dk.ok(t, "plugin", "rm", "-f", name)
	eventually(t, func() bool { return len(dockerObserveHelpers(d)) == 0 && len(dockerObserveFiles(t, d)) == 0 }, waitTimeout, "the removal ends the helper")
	state, err := os.ReadFile(filepath.Join(d.dataRoot, "docker-observe.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(state), p.ID)
}

// dockerPluginPid is the pid of dockerd's plugin target's process, 0 if it
// does not run.
func dockerPluginPid(t *testing.T, d *daemon, target string) int {
	t.Helper()
	top, err := d.client.Top(testCtx(t), target)
	if err != nil || len(top.Processes) == 0 {
		return 0
	}
	for i, title := range top.Titles {
		if title == "PID" && i < len(top.Processes[0]) {
			pid, _ := strconv.Atoi(top.Processes[0][i])
			return pid
		}
	}
	return 0
}
