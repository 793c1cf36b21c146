package metrics

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// buildContext is a plugin build context: a volume driver listening on
// p.sock, with an executable entrypoint.
func buildContext(t *testing.T) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, body)
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "config.json", Typeflag: tar.TypeReg, Mode: 0o644},
		`{"Description":"test","Entrypoint":["/plugin"],"Interface":{"Types":["docker.volumedriver/1.0"],"Socket":"p.sock"}}`)
	add(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "rootfs/plugin", Typeflag: tar.TypeReg, Mode: 0o755}, "#!/bin/sh\n")
	require.NoError(t, tw.Close())
	return &buf
}

// TestWithManager feeds the collectors from a real manager and API (whose
// executor runs plugins in the test process): a plugin enabled through the
// API is up, its enable is timed, the requests are counted by route, and a
// disabled plugin is down.
func TestWithManager(t *testing.T) {
	rec := NewRecorder()
	served := apitest.ServeWith(t, apitest.Options{Running: "p.sock", Observer: rec, Requests: rec})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, Register(reg, Sources{Runtime: served.Manager, Logs: served.Hub, Recorder: rec}))

	ctx := context.Background()
	on, err := served.Manager.Create(ctx, "on", buildContext(t))
	require.NoError(t, err)
	off, err := served.Manager.Create(ctx, "team/off", buildContext(t))
	require.NoError(t, err)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", served.Socket)
	}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://plugdbg/v1.44/plugins/on/enable?timeout=10", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = hc.Post("http://plugdbg/plugins/nosuch/enable", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	got := samples(t, reg)
	assert.Equal(t, map[string]float64{
		`plugdbg_plugin_up{id="` + on + `",plugin="on:latest",type="volumedriver"}`:        1,
		`plugdbg_plugin_up{id="` + off + `",plugin="team/off:latest",type="volumedriver"}`: 0,
	}, withPrefix(got, PluginUp))
	assert.Equal(t, 1.0, got[PluginEnableDuration+"_count"])
	assert.Positive(t, got[PluginEnableDuration+"_sum"])
	assert.Equal(t, map[string]float64{
		`plugdbg_api_requests_total{code="200",method="POST",route="/plugins/{name}/enable"}`: 1,
		`plugdbg_api_requests_total{code="404",method="POST",route="/plugins/{name}/enable"}`: 1,
	}, withPrefix(got, APIRequests))
	assert.Equal(t, 0.0, got[`plugdbg_exec_sessions_total{plugin="on:latest"}`])
	assert.Equal(t, 0.0, got[`plugdbg_plugin_restarts_total{plugin="on:latest"}`])
	// The stand-in has no cgroup: its stats read as "not running" and
	// are left out, without failing the scrape.
	assert.Empty(t, withPrefix(got, PluginCPU))

	require.NoError(t, served.Manager.Remove(ctx, "on", true))
	got = samples(t, reg)
	assert.Len(t, withPrefix(got, PluginUp), 1, "a removed plugin's series go")
	assert.Len(t, withPrefix(got, PluginLogLines), 2)
}
