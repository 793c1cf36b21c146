package integration

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

func socketInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestTrace traces the volume plugin while a concurrent client calls it
// through the usual socket path: every call is answered as without the
// trace and recorded once, published as an event, and stopping the trace
// puts the plugin's own socket back without restarting it.
func TestTrace(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	before := d.enable(t, "vol")
	sock := before.State.Socket
	orig := socketInode(t, sock)
	evs := d.events(t)

	tr := startTrace(t, d, "vol", sock)
	assert.NotEqual(t, orig, socketInode(t, sock), "the proxy has the socket's path")

	const clients, perClient = 4, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			pc := probe.New(sock)
			defer pc.Close()
			for i := range perClient {
				name := fmt.Sprintf("t%d-%d", c, i)
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Create", map[string]string{"Name": name}, nil))
				var got struct {
					Volume struct{ Name, Mountpoint string }
				}
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": name}, &got))
				assert.Equal(t, name, got.Volume.Name)
				assert.Equal(t, "/data/"+name, got.Volume.Mountpoint)
			}
		})
	}
	wg.Wait()
	// A failing call is recorded with its Err.
	pc := probe.New(sock)
	err := pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": "nope"}, nil)
	pc.Close()
	require.Error(t, err)

	want := clients*perClient*2 + 1
	seen := map[string]int{}
	var failed types.TraceRecord
	deadline := time.After(waitTimeout)
	for n := 0; n < want; n++ {
		select {
		case r := <-tr.records:
			seen[r.Method+" "+r.Request]++
			if r.Status != 200 {
				failed = r
			}
		case <-deadline:
			t.Fatalf("got %d of %d trace records", n, want)
		}
	}
	for c := range clients {
		for i := range perClient {
			name := fmt.Sprintf("t%d-%d", c, i)
			body := fmt.Sprintf("{\"Name\":%q}\n", name)
			assert.Equal(t, 1, seen["VolumeDriver.Create "+body], "Create %s", name)
			assert.Equal(t, 1, seen["VolumeDriver.Get "+body], "Get %s", name)
		}
	}
	assert.Equal(t, "VolumeDriver.Get", failed.Method)
	assert.Equal(t, 500, failed.Status)
	assert.Equal(t, "no such volume: nope", failed.Err)

	calls := 0
	timeout := time.After(waitTimeout)
	for calls < want {
		select {
		case ev := <-evs:
			if ev.Action == events.Action("call") && ev.Actor.ID == before.ID {
				calls++
				assert.NotEmpty(t, ev.Actor.Attributes["method"])
			}
		case <-timeout:
			t.Fatalf("got %d of %d call events", calls, want)
		}
	}

	tr.stop()
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: socket", "restored", "plugin="+before.ID)) == 1
	}, waitTimeout, "the daemon says it put the plugin's socket back")
	assert.Equal(t, orig, socketInode(t, sock), "the plugin's socket is back")
	_, err = os.Lstat(tracer.AsidePath(sock))
	assert.True(t, os.IsNotExist(err), "the proxy's socket is gone")
	assert.Contains(t, volumeNames(t, sock), "t3-24", "calls go straight to the plugin")
	after := d.inspect(t, "vol")
	assert.Equal(t, before.State.Pid, after.State.Pid, "no restart")
	assert.Equal(t, before.State.RestartCount, after.State.RestartCount)

	stdout, errOut, code := d.cli(t, "trace", "nosuch")
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, errOut, "nosuch")
}

// TestTraceDaemonStop: a daemon stopped while a trace runs puts the
// plugin's socket back before it exits.
func TestTraceDaemonStop(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	sock := d.enable(t, "vol").State.Socket
	orig := socketInode(t, sock)

	startTrace(t, d, "vol", sock)
	require.NotEqual(t, orig, socketInode(t, sock), "the proxy has the socket's path")

	d.stop()
	assert.Equal(t, orig, socketInode(t, sock), "the plugin's socket is back once the daemon has exited")
	_, err := os.Lstat(tracer.AsidePath(sock))
	assert.True(t, os.IsNotExist(err))
	assert.NotNil(t, volumeNames(t, sock), "the plugin answers on its socket")
}

// TestTraceDaemonKilled: a daemon killed while a trace runs leaves the
// plugin's socket moved aside; the next daemon puts it back as it starts,
// with no trace and no restart of the plugin.
func TestTraceDaemonKilled(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	before := d.enable(t, "vol")
	sock, aside := before.State.Socket, tracer.AsidePath(before.State.Socket)
	orig := socketInode(t, sock)
	startTrace(t, d, "vol", sock)

	d.kill9()
	require.FileExists(t, aside, "the killed daemon left the plugin's socket moved aside")
	require.NotEqual(t, orig, socketInode(t, sock))

	d.start() // answers once it has reattached its plugins
	assert.Equal(t, orig, socketInode(t, sock), "the plugin's socket is back at its path")
	assert.NoFileExists(t, aside)
	createVolume(t, sock, "after")
	assert.Contains(t, volumeNames(t, sock), "after", "calls on the path reach the plugin")
	after := d.inspect(t, "vol")
	assert.Equal(t, before.State.Pid, after.State.Pid, "no restart")
	assert.Empty(t, after.State.StaleTrace)
	assert.Len(t, logLines(d.daemonLog(), "put back from a trace that ended with its daemon", "plugin="+before.ID), 1)
}

// TestTraceFollowsPluginRestart: a plugin killed while traced is restarted
// by the daemon, and the trace follows its new socket: it says so again,
// and calls made after the restart are recorded.
func TestTraceFollowsPluginRestart(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	before := d.enable(t, "vol")
	sock := before.State.Socket
	tr := startTrace(t, d, "vol", sock)
	createVolume(t, sock, "before")
	tr.waitCall(t, "VolumeDriver.Create", `"before"`)

	require.NoError(t, syscall.Kill(before.State.Pid, syscall.SIGKILL))
	tr.waitStarted(t, sock) // the proxy is on the restarted plugin's socket
	after := d.inspect(t, "vol")
	assert.NotEqual(t, before.State.Pid, after.State.Pid, "the plugin restarted")
	assert.Equal(t, 1, after.State.RestartCount)
	createVolume(t, sock, "after")
	tr.waitCall(t, "VolumeDriver.Create", `"after"`)
	tr.stop()
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: socket", "restored", "plugin="+before.ID)) == 1
	}, waitTimeout, "the daemon says it put the plugin's socket back")
	assert.NoFileExists(t, tracer.AsidePath(sock))
	assert.Contains(t, volumeNames(t, sock), "after", "the restarted plugin answers on its path")
}

// waitCall waits until the trace has recorded a call of method whose
// request contains body.
func (tr *traceCmd) waitCall(t *testing.T, method, body string) {
	t.Helper()
	var seen []string
	deadline := time.After(waitTimeout)
	for {
		select {
		case r, ok := <-tr.records:
			require.True(t, ok, "the trace ended; it saw %v", seen)
			if r.Method == method && strings.Contains(r.Request, body) {
				return
			}
			seen = append(seen, r.Method+" "+r.Request)
		case <-deadline:
			require.FailNow(t, "no "+method+" "+body+" in the trace", "it saw %v", seen)
		}
	}
}
