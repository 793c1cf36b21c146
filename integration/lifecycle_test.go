package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
)

// TestLifecycle walks a volume plugin through create, enable, real use over
// its socket, disable and rm, checking what each step leaves on the host.
func TestLifecycle(t *testing.T) {
	d := startDaemon(t)
	ctx := testCtx(t)
	evs := d.events(t)
	st, err := os.Stat(d.sock)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o660, st.Mode(), "daemon socket mode")

	out, errOut, code := d.cli(t, "create", "vol", pluginDir("volume"))
	require.Equal(t, 0, code, "create: %s", errOut)
	assert.Equal(t, "vol\n", out)

	list, err := d.client.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	p := list[0]
	id := p.ID
	assert.Equal(t, "vol:latest", p.Name)
	assert.Regexp(t, `^[0-9a-f]{64}$`, id)
	assert.False(t, p.Enabled)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
	assert.Zero(t, p.State.Pid)
	assert.DirExists(t, filepath.Join(d.storeDir(id), "rootfs"))
	assert.FileExists(t, filepath.Join(d.storeDir(id), "rootfs", "pdvol"))

	require.NoError(t, d.client.Enable(ctx, "vol", 0))
	p = d.inspect(t, "vol")
	assert.True(t, p.Enabled)
	assert.Equal(t, types.StatusRunning, p.State.Status)
	require.Positive(t, p.State.Pid)
	assert.True(t, alive(p.State.Pid), "container init %d is not running", p.State.Pid)
	assert.Equal(t, filepath.Join(d.socketDir(id), "pdvol.sock"), p.State.Socket)
	assert.Len(t, d.monitorPids(id), 1, "monitor processes for the plugin")
	pid := p.State.Pid

	// Real RPCs over the plugin's socket; the volume lands on the host
	// through the propagated mount.
	createVolume(t, p.State.Socket, "v1")
	assert.Equal(t, []string{"v1"}, volumeNames(t, p.State.Socket))
	volDir := filepath.Join(d.storeDir(id), "propagated-mount", "v1")
	assert.DirExists(t, volDir, "volume created by the plugin in /data/v1 is not on the host")
	assert.Contains(t, mountsUnder(d.storeDir(id)), filepath.Join(d.storeDir(id), "propagated-mount"))

	// A failing call: the plugin answers with Err and logs on stderr.
	err = probe.New(p.State.Socket).Call(ctx, "VolumeDriver.Create",
		map[string]any{"Name": "v2", "Opts": map[string]string{"fail": "1"}}, nil)
	var se *probe.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 500, se.Status)
	assert.Equal(t, "create v2: failing on purpose (opt fail=1)", se.Msg)
	assert.NoDirExists(t, filepath.Join(d.storeDir(id), "propagated-mount", "v2"))

	// The plugin's stdout reaches the daemon log at info, its stderr at
	// error, both tagged with its ID; its own log file keeps both streams.
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "level=error", "VolumeDriver.Create failed", "name=v2", "plugin="+id)) == 1
	}, waitTimeout, "plugin's stderr line in the daemon log")
	assert.Len(t, logLines(d.daemonLog(), "level=info", "VolumeDriver.Create", "name=v1", "plugin="+id), 1)
	pluginLog, err := os.ReadFile(p.State.LogPath)
	require.NoError(t, err)
	assert.Len(t, logLines(string(pluginLog), `"stream":"stdout"`, "VolumeDriver.Create name=v1"), 1)
	assert.Len(t, logLines(string(pluginLog), `"stream":"stderr"`, "VolumeDriver.Create failed", "name=v2"), 1)

	require.NoError(t, d.client.Disable(ctx, "vol", false))
	p = d.inspect(t, "vol")
	assert.False(t, p.Enabled)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
	assert.Zero(t, p.State.Pid)
	assert.NoDirExists(t, d.socketDir(id), "socket dir after disable")
	assert.False(t, alive(pid), "container init %d still runs after disable", pid)
	assertMonitorGone(t, d, id)
	assert.Empty(t, mountsUnder(d.storeDir(id)), "mounts after disable")
	assert.DirExists(t, volDir, "volume data must survive a disable")

	// Persisted: the store's state says disabled too.
	b, err := os.ReadFile(filepath.Join(d.storeDir(id), "config.json"))
	require.NoError(t, err)
	var rec struct {
		Plugin struct {
			ID      string
			Enabled bool
		}
	}
	require.NoError(t, json.Unmarshal(b, &rec))
	assert.Equal(t, id, rec.Plugin.ID)
	assert.False(t, rec.Plugin.Enabled, "stored Enabled after disable")

	_, errOut, code = d.cli(t, "set", "vol", "DEBUG=1")
	require.Equal(t, 0, code, errOut)
	require.NoError(t, d.client.Remove(ctx, "vol", false))
	assert.NoDirExists(t, d.storeDir(id), "store dir after rm")
	assert.NoDirExists(t, d.monitorDir(id), "monitor dir after rm")
	assert.NoDirExists(t, d.containerStateDir(id), "container state after rm")
	list, err = d.client.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = d.client.Inspect(ctx, id)
	assert.True(t, client.IsNotFound(err), "inspect after rm: %v", err)

	// The events of it all, in order, each naming the plugin.
	var actions []string
	deadline := time.After(waitTimeout)
	for len(actions) < 5 {
		select {
		case m := <-evs:
			assert.Equal(t, id, m.Actor.ID)
			assert.Equal(t, "vol:latest", m.Actor.Attributes["name"])
			actions = append(actions, string(m.Action))
			if m.Action == types.ActionSet {
				assert.Equal(t, "DEBUG=1", m.Actor.Attributes["settings"])
			}
		case <-deadline:
			require.FailNowf(t, "missing events", "got %v", actions)
		}
	}
	assert.Equal(t, []string{"create", "enable", "disable", "set", "remove"}, actions)
}
