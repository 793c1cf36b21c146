package integration

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/observe"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// enableObserved creates and enables plugin name, observed, and returns
// its inspect once its recording point is in place.
func enableObserved(t *testing.T, d *daemon, name string) types.Inspect {
	t.Helper()
	d.create(t, name, "volume")
	d.ok(t, "observe", name)
	in := d.enable(t, name)
	require.True(t, in.State.Recording, "the recording point is in place: %s", in.State.ObserveError)
	return in
}

// pointTraces is the number of trace streams attached to the recording
// point of plugin id's run, read from its monitor, daemon or not.
func pointTraces(t *testing.T, d *daemon, id string) int {
	t.Helper()
	st, err := monitor.ObserveState(testCtx(t), d.monitorDir(id))
	require.NoError(t, err, "the monitor answers")
	require.True(t, st.Recording, "the point is in place: %s", st.Error)
	return st.Traces
}

// assertOneHop checks that the path sock is the recording point's socket
// and nothing else's: no trace proxy moved it aside.
func assertOneHop(t *testing.T, sock string, pointIno uint64) {
	t.Helper()
	assert.Equal(t, pointIno, socketInode(t, sock), "the path is still the recording point's socket")
	assert.NoFileExists(t, tracer.AsidePath(sock), "no trace proxy in front of the point")
	assert.FileExists(t, observe.AsidePath(sock), "the plugin's own socket is behind the point")
}

// TestTracePoint: a trace of an observed plugin reads the calls from its
// recording point, in one hop: nothing is moved on the socket, every call
// made through the socket by concurrent clients is recorded once and
// counted once, and the end of the trace leaves the point recording
// nothing. A plugin that is not observed is traced with a proxy, as before.
func TestTracePoint(t *testing.T) {
	d := startDaemon(t)
	in := enableObserved(t, d, "vol")
	sock := in.State.Socket
	pointIno := socketInode(t, sock)
	_, before := d.calls(t, "vol")

	tr := startTrace(t, d, "vol", sock)
	assertOneHop(t, sock, pointIno)
	assert.Equal(t, 1, pointTraces(t, d, in.ID), "the trace reads the point")
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: reading the calls from the recording point on "+sock, "plugin="+in.ID)) == 1
	}, waitTimeout, "the daemon says the trace reads the point") // its log is flushed on a timer

	const clients, perClient = 4, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			pc := probe.New(sock)
			defer pc.Close()
			for i := range perClient {
				name := fmt.Sprintf("p%d-%d", c, i)
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Create", map[string]string{"Name": name}, nil))
				var got struct{ Volume struct{ Name string } }
				assert.NoError(t, pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": name}, &got))
				assert.Equal(t, name, got.Volume.Name)
			}
		})
	}
	wg.Wait()
	pc := probe.New(sock)
	require.Error(t, pc.Call(testCtx(t), "VolumeDriver.Get", map[string]string{"Name": "nope"}, nil))
	pc.Close()

	want := clients*perClient*2 + 1
	seen := map[string]int{}
	var failed types.TraceRecord
	deadline := time.After(waitTimeout)
	for n := 0; n < want; n++ {
		select {
		case r := <-tr.records:
			seen[r.Method+" "+r.Request]++
			assert.Positive(t, r.Conn)
			if r.Status != 200 {
				failed = r
			}
		case <-deadline:
			t.Fatalf("got %d of %d trace records", n, want)
		}
	}
	for c := range clients {
		for i := range perClient {
			body := fmt.Sprintf("{\"Name\":%q}\n", fmt.Sprintf("p%d-%d", c, i))
			assert.Equal(t, 1, seen["VolumeDriver.Create "+body], "Create %s", body)
			assert.Equal(t, 1, seen["VolumeDriver.Get "+body], "Get %s", body)
		}
	}
	assert.Equal(t, "VolumeDriver.Get", failed.Method)
	assert.Equal(t, 500, failed.Status)
	assert.Equal(t, "no such volume: nope", failed.Err)

	_, after := d.calls(t, "vol")
	assert.Equal(t, before["VolumeDriver.Create"].Count+clients*perClient, after["VolumeDriver.Create"].Count, "each call counted once")
	assert.Equal(t, before["VolumeDriver.Get"].Count+clients*perClient+1, after["VolumeDriver.Get"].Count)
	assertOneHop(t, sock, pointIno)

	tr.stop()
	eventually(t, func() bool { return pointTraces(t, d, in.ID) == 0 }, waitTimeout, "the point lets go of the ended trace")
	createVolume(t, sock, "untraced")
	_, last := d.calls(t, "vol")
	assert.Equal(t, after["VolumeDriver.Create"].Count+1, last["VolumeDriver.Create"].Count, "still counted after the trace")
	assertOneHop(t, sock, pointIno)

	// A plugin that is not observed: a proxy of the trace's own, as before.
	d.create(t, "plain", "volume")
	plain := d.enable(t, "plain")
	psock := plain.State.Socket
	orig := socketInode(t, psock)
	ptr := startTrace(t, d, "plain", psock)
	assert.FileExists(t, tracer.AsidePath(psock), "the plugin's socket is moved aside for the proxy")
	createVolume(t, psock, "proxied")
	ptr.waitCall(t, "VolumeDriver.Create", `"proxied"`)
	ptr.stop()
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: socket", "restored", "plugin="+plain.ID)) == 1
	}, waitTimeout, "the daemon says it put the plugin's socket back")
	assert.Equal(t, orig, socketInode(t, psock))
}

// TestTracePointObserveOff: observe --off during a trace of the recording
// point does not end the trace: a record says the point was removed, a
// proxy of the trace's own takes its place, the trace says "tracing"
// again, and the calls made after it are recorded.
func TestTracePointObserveOff(t *testing.T) {
	d := startDaemon(t)
	in := enableObserved(t, d, "vol")
	sock := in.State.Socket
	tr := startTrace(t, d, "vol", sock)
	createVolume(t, sock, "observed")
	tr.waitCall(t, "VolumeDriver.Create", `"observed"`)

	d.ok(t, "observe", "--off", "vol")
	tr.waitErr(t, "the recording point was removed (observe --off)")
	tr.waitStarted(t, sock) // the proxy is in place
	assert.FileExists(t, tracer.AsidePath(sock), "the trace's own proxy has the path")
	assert.NoFileExists(t, observe.AsidePath(sock))
	createVolume(t, sock, "proxied")
	tr.waitCall(t, "VolumeDriver.Create", `"proxied"`)
	tr.stop()
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: socket", "restored", "plugin="+in.ID)) == 1
	}, waitTimeout, "the daemon says it put the plugin's socket back")
	assert.NoFileExists(t, tracer.AsidePath(sock))
	assert.Contains(t, volumeNames(t, sock), "proxied")
	assert.Equal(t, in.State.Pid, d.inspect(t, "vol").State.Pid, "no restart")
}

// TestTracePointFollowsRestart: a plugin killed while its point is traced
// restarts with a new monitor and a new point, and the trace reads that
// one: it says "tracing" again, records the calls made after the restart,
// and still puts no proxy on the socket.
func TestTracePointFollowsRestart(t *testing.T) {
	d := startDaemon(t)
	in := enableObserved(t, d, "vol")
	sock := in.State.Socket
	tr := startTrace(t, d, "vol", sock)
	createVolume(t, sock, "before")
	tr.waitCall(t, "VolumeDriver.Create", `"before"`)

	require.NoError(t, syscall.Kill(in.State.Pid, syscall.SIGKILL))
	tr.waitStarted(t, sock) // on the restarted run's point
	again := d.inspect(t, "vol")
	assert.Equal(t, 1, again.State.RestartCount)
	assert.True(t, again.State.Recording, again.State.ObserveError)
	assertOneHop(t, sock, socketInode(t, sock))
	assert.Equal(t, 1, pointTraces(t, d, in.ID), "the new run's point is traced")
	createVolume(t, sock, "after")
	tr.waitCall(t, "VolumeDriver.Create", `"after"`)
	eventually(t, func() bool {
		return len(logLines(d.daemonLog(), "trace: reading the calls from the recording point", "plugin="+in.ID)) == 2
	}, waitTimeout, "the daemon says the trace reads the new run's point")
	_, by := d.calls(t, "vol")
	assert.Equal(t, uint64(1), by["VolumeDriver.Create"].Count, "the new run counts from zero, once")
}

// TestTracePointDaemonKilled: a daemon killed during a trace of the
// recording point leaves nothing behind in the monitor: the stream ends
// with the connection, the point records nothing and keeps counting, the
// plugin stays reachable, and the next daemon's trace reads the point
// again.
func TestTracePointDaemonKilled(t *testing.T) {
	d := startDaemon(t)
	in := enableObserved(t, d, "vol")
	sock := in.State.Socket
	pointIno := socketInode(t, sock)
	tr := startTrace(t, d, "vol", sock)
	createVolume(t, sock, "before")
	tr.waitCall(t, "VolumeDriver.Create", `"before"`)
	require.Equal(t, 1, pointTraces(t, d, in.ID))

	d.kill9()
	eventually(t, func() bool { return pointTraces(t, d, in.ID) == 0 }, waitTimeout, "the monitor ends the stream of the killed daemon")
	assertOneHop(t, sock, pointIno)
	createVolume(t, sock, "nodaemon")
	c, err := monitor.Calls(testCtx(t), d.monitorDir(in.ID))
	require.NoError(t, err)
	for _, m := range c.Methods {
		if m.Method == "VolumeDriver.Create" {
			assert.Equal(t, uint64(2), m.Count, "the call made with no daemon is counted")
		}
	}
	tr.stop()

	d.start()
	assert.Empty(t, d.inspect(t, "vol").State.StaleTrace)
	tr = startTrace(t, d, "vol", sock)
	assertOneHop(t, sock, pointIno)
	createVolume(t, sock, "after")
	tr.waitCall(t, "VolumeDriver.Create", `"after"`)
	_, by := d.calls(t, "vol")
	assert.Equal(t, uint64(3), by["VolumeDriver.Create"].Count)
	assert.Equal(t, in.State.Pid, d.inspect(t, "vol").State.Pid, "no restart")
}

// waitErr waits until the trace has a record with no call whose Err
// contains msg: a note of the trace's own.
func (tr *traceCmd) waitErr(t *testing.T, msg string) {
	t.Helper()
	var seen []string
	deadline := time.After(waitTimeout)
	for {
		select {
		case r, ok := <-tr.records:
			require.True(t, ok, "the trace ended; it saw %v", seen)
			if r.Method == "" && strings.Contains(r.Err, msg) {
				return
			}
			seen = append(seen, r.Method+" "+r.Err)
		case <-deadline:
			require.FailNow(t, "no record saying "+msg, "it saw %v", seen)
		}
	}
}
