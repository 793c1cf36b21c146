package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// plainClient is a plain Go HTTP client of a plugin socket, keeping its
// connections alive as dockerd's plugin client does.
func plainClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

// plainCalls makes n VolumeDriver.List calls with c, each answered 200.
func plainCalls(t *testing.T, c *http.Client, n int) {
	t.Helper()
	for range n {
		resp, err := c.Post("http://plugin/VolumeDriver.List", "application/vnd.docker.plugins.v1+json", strings.NewReader("{}"))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

// probeCalls makes n VolumeDriver.List calls with plugdbg probe --socket,
// which needs no daemon, four at a time.
func probeCalls(t *testing.T, host, sock string, n int) {
	t.Helper()
	stdout, stderr, code := cli(t, host, "probe", "--socket", sock, "VolumeDriver.List", "--repeat", fmt.Sprint(n), "--concurrency", "4")
	require.Equal(t, 0, code, "probe --repeat: %s%s", stdout, stderr)
}

// calls reads plugin ref's counters through the API, by method.
func (d *daemon) calls(t *testing.T, ref string) (types.CallStats, map[string]types.MethodCalls) {
	t.Helper()
	c, err := d.client.Calls(testCtx(t), ref)
	require.NoError(t, err, "GET /plugins/%s/calls", ref)
	by := map[string]types.MethodCalls{}
	for _, m := range c.Methods {
		by[m.Method] = m
	}
	return c, by
}

// TestObserveCountsAcrossDaemonKill: an observed plugin's calls are counted
// exactly, whoever makes them (plugdbg probe, a plain Go client, the
// enable's Plugin.Activate), including the calls made while the daemon is
// killed and before it is back; observe --off gives the plugin its own
// socket back, without a restart, and calls still work.
func TestObserveCountsAcrossDaemonKill(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	d.ok(t, "observe", "vol")
	in := d.enable(t, "vol")
	require.True(t, in.State.Observed)
	require.True(t, in.State.Recording, "enable returns with the recording point in place: %s", in.State.ObserveError)
	sock := in.State.Socket
	pointIno := socketInode(t, sock)
	_, err := os.Lstat(observe.AsidePath(sock))
	require.NoError(t, err, "the plugin's own socket is moved aside")

	const probeN, plainN, downN = 60, 25, 40
	probeCalls(t, d.host, sock, probeN)
	pc := plainClient(sock)
	plainCalls(t, pc, plainN)
	// A failing call: go-plugins-helpers answers 500 with the Err.
	resp, err := pc.Post("http://plugin/VolumeDriver.Get", "application/json", strings.NewReader(`{"Name":"nope"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)

	before, by := d.calls(t, "vol")
	assert.True(t, before.Observed)
	assert.True(t, before.Recording)
	assert.Equal(t, in.ID, before.Plugin)
	list := by["VolumeDriver.List"]
	assert.Equal(t, uint64(probeN+plainN), list.Count)
	assert.Equal(t, map[string]uint64{"200": probeN + plainN}, list.Statuses)
	assert.Equal(t, list.Count, list.Buckets[len(list.Buckets)-1], "every call in the histogram, under 10 s")
	assert.Equal(t, map[string]uint64{"500": 1}, by["VolumeDriver.Get"].Statuses)
	// The enable's Activate; a try that found the plugin not listening
	// yet reached no plugin, and is not a call.
	activate := by["Plugin.Activate"]
	assert.GreaterOrEqual(t, activate.Count, uint64(1), "the enable's Plugin.Activate is counted")
	assert.Equal(t, map[string]uint64{"200": activate.Count}, activate.Statuses)
	assert.Zero(t, before.Unparsed)

	// The daemon is killed; the plugin stays reachable through the point,
	// which goes on counting.
	d.kill9()
	probeCalls(t, d.host, sock, downN/2)
	plainCalls(t, pc, downN/2)
	pc.CloseIdleConnections()
	d.start()

	after, by := d.calls(t, "vol")
	assert.Equal(t, before.Since, after.Since, "the same run's counters")
	assert.Equal(t, uint64(probeN+plainN+downN), by["VolumeDriver.List"].Count, "the calls made while no daemon ran are counted")
	assert.Equal(t, map[string]uint64{"200": probeN + plainN + downN}, by["VolumeDriver.List"].Statuses)
	assert.Equal(t, activate.Count, by["Plugin.Activate"].Count)
	assert.GreaterOrEqual(t, by["VolumeDriver.List"].Sum, list.Sum)
	in = d.inspect(t, "vol")
	assert.True(t, in.State.Recording, "the restarted daemon sees the point in place: %s", in.State.ObserveError)

	// --off puts the plugin's own socket back; calls go straight to it.
	d.ok(t, "observe", "--off", "vol")
	assert.NotEqual(t, pointIno, socketInode(t, sock), "the path is the plugin's own socket again")
	_, err = os.Lstat(observe.AsidePath(sock))
	assert.True(t, os.IsNotExist(err), "nothing is left aside")
	assert.Empty(t, volumeNames(t, sock))
	plainCalls(t, plainClient(sock), 3)
	off, by := d.calls(t, "vol")
	assert.False(t, off.Observed)
	assert.False(t, off.Recording)
	assert.Equal(t, uint64(probeN+plainN+downN), by["VolumeDriver.List"].Count, "calls made unobserved are not counted")
	in = d.inspect(t, "vol")
	assert.False(t, in.State.Observed)
	assert.False(t, in.State.Recording)
	assert.Equal(t, before.Since, off.Since)

	// On again, without a restart: the run's counters go on.
	require.NoError(t, d.client.Observe(testCtx(t), "vol", true))
	plainCalls(t, plainClient(sock), 2)
	_, by = d.calls(t, "vol")
	assert.Equal(t, uint64(probeN+plainN+downN+2), by["VolumeDriver.List"].Count)
	assert.Equal(t, in.State.Pid, d.inspect(t, "vol").State.Pid, "no restart")
}

// TestObserveAllAndCrashRestart: --observe-all observes a plugin that is
// not set to be; a crash restart runs a new monitor, whose counters start
// from zero with a new Since, the restarted run observed from its start.
func TestObserveAllAndCrashRestart(t *testing.T) {
	d := startDaemonWith(t, "--observe-all")
	d.create(t, "vol", "volume")
	in := d.enable(t, "vol")
	require.True(t, in.State.Observed)
	require.True(t, in.State.Recording, in.State.ObserveError)
	sock := in.State.Socket
	plainCalls(t, plainClient(sock), 5)
	first, by := d.calls(t, "vol")
	require.Equal(t, uint64(5), by["VolumeDriver.List"].Count)

	require.NoError(t, syscall.Kill(in.State.Pid, syscall.SIGKILL))
	var again types.Inspect
	eventuallyShow(t, func() bool {
		again = d.inspect(t, "vol")
		return again.State.RestartCount == 1 && again.State.Status == types.StatusRunning
	}, waitTimeout, func() string { return fmt.Sprintf("the plugin restarts after its crash: %+v", again.State) })
	assert.True(t, again.State.Recording, again.State.ObserveError)
	second, by := d.calls(t, "vol")
	assert.True(t, second.Since.After(first.Since), "a new run, a new Since")
	assert.Zero(t, by["VolumeDriver.List"].Count, "a new run counts from zero")
	assert.GreaterOrEqual(t, by["Plugin.Activate"].Count, uint64(1), "the restart's Activate is counted")
	plainCalls(t, plainClient(sock), 3)
	_, by = d.calls(t, "vol")
	assert.Equal(t, uint64(3), by["VolumeDriver.List"].Count)
}

// TestObserveStats: plugdbg stats shows an observed plugin's calls/s and
// p99 latency, from the calls made while it sampled, and "--" for a
// plugin that is not observed.
func TestObserveStats(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	d.create(t, "plain", "volume")
	d.ok(t, "observe", "vol")
	sock := d.enable(t, "vol").State.Socket
	d.enable(t, "plain")

	// Calls go on until the test ends, so that every sample has some.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := plainClient(sock)
		defer c.CloseIdleConnections()
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin/VolumeDriver.List", strings.NewReader("{}"))
			if resp, err := c.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })

	row := regexp.MustCompile(`(?m)^\S+\s+vol:latest\s.*\s(\d+\.\d)\s+(\d+(?:\.\d+)?(?:ms|s))$`)
	var out string
	eventually(t, func() bool {
		out = d.ok(t, "stats", "--no-stream", "vol")
		m := row.FindStringSubmatch(out)
		return m != nil && m[1] != "0.0"
	}, waitTimeout, "calls/s and p99 in plugdbg stats")
	assert.Regexp(t, `(?m)^ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+PIDS\s+CALLS/S\s+P99$`, out)

	out = d.ok(t, "stats", "--no-stream", "plain")
	assert.Regexp(t, `(?m)^\S+\s+plain:latest\s.*\s--\s+--$`, out, "not observed")
}
