package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/manager"
)

// fakeRuntime is the manager's side of the collector, as a test sets it.
type fakeRuntime struct {
	mu      sync.Mutex
	plugins []types.Inspect
	stats   map[string]types.Stats
	errs    map[string]error
	execs   map[string]manager.ExecSessions
	reads   int // Stats calls
}

func (f *fakeRuntime) List() []types.Inspect {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]types.Inspect(nil), f.plugins...)
}

func (f *fakeRuntime) Stats(id string) (types.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if err := f.errs[id]; err != nil {
		return types.Stats{}, err
	}
	return f.stats[id], nil
}

func (f *fakeRuntime) ExecSessions() map[string]manager.ExecSessions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.execs
}

// inspect is a plugin as the manager lists it.
func inspect(id, name, status string, unstored uint64, caps ...string) types.Inspect {
	p := types.Inspect{State: types.State{Status: status, UnstoredLines: unstored}}
	p.ID, p.Name = id, name
	for _, c := range caps {
		p.Config.Interface.Types = append(p.Config.Interface.Types, plugin.CapabilityID{Capability: c, Prefix: "docker", Version: "1.0"})
	}
	return p
}

// samples gathers g and returns every sample as `name{k="v",…}` → value,
// labels sorted; a histogram gives its _count and _sum.
func samples(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	return familySamples(mfs)
}

func familySamples(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				name, labels, _ := strings.Cut(key, "{")
				if labels != "" {
					labels = "{" + labels
				}
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// withPrefix keeps the samples whose key starts with prefix.
func withPrefix(s map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// quietLogger is a logger that writes nowhere.
func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// quietLog is a logger that keeps what it is told, for assertions.
func quietLog() (*logrus.Logger, *strings.Builder) {
	var b strings.Builder
	l := logrus.New()
	l.SetOutput(&lockedWriter{w: &b})
	return l, &b
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// testSources are sources of two plugins, one running with stats, and a
// pedantic registry of plugdbg's collectors on them.
func testSources(t *testing.T) (*fakeRuntime, *logs.Hub, *Recorder, *prometheus.Registry) {
	t.Helper()
	rt := &fakeRuntime{
		plugins: []types.Inspect{
			inspect("aaaa", "myvol:latest", types.StatusRunning, 5, "volumedriver"),
			inspect("bbbb", "net:1.0", types.StatusDisabled, 0, "networkdriver", "ipamdriver"),
		},
		stats: map[string]types.Stats{"aaaa": {CPUUsage: 2_500_000_000, MemoryUsage: 4096}},
		execs: map[string]manager.ExecSessions{"aaaa": {Running: 1, Total: 3}},
	}
	hub := new(logs.Hub)
	rec := NewRecorder()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, Register(reg, Sources{Runtime: rt, Logs: hub, Recorder: rec}))
	return rt, hub, rec, reg
}

func exitEvent(id, code, signal, errText string) events.Message {
	attrs := map[string]string{"name": "x", "exitCode": code}
	if signal != "" {
		attrs["signal"] = signal
	}
	if errText != "" {
		attrs["error"] = errText
	}
	return events.Message{Type: events.PluginEventType, Action: types.ActionExit, Actor: events.Actor{ID: id, Attributes: attrs}}
}

func event(id string, action events.Action) events.Message {
	return events.Message{Type: events.PluginEventType, Action: action, Actor: events.Actor{ID: id, Attributes: map[string]string{"name": "x"}}}
}

// TestPluginMetrics: one series per plugin known, enabled or not, for the
// state read at scrape time; restarts and exits as the recorder counted
// them; CPU and memory of the running plugin only.
func TestPluginMetrics(t *testing.T) {
	_, hub, rec, reg := testSources(t)
	hub.Publish(logs.Batch{Plugin: "aaaa", Entries: []logs.Entry{
		{Seq: 1, Stream: logs.Stdout, Line: "hello"},
		{Seq: 2, Stream: logs.Stderr, Line: "oops!"},
		{Seq: 3, Stream: logs.Stdout, Line: "bye"},
	}})
	f1, f2 := hub.Subscribe("aaaa", 1), hub.Subscribe("", 1)
	defer hub.Unsubscribe(f1)
	defer hub.Unsubscribe(f2)
	for _, m := range []events.Message{
		event("aaaa", events.ActionCreate), event("aaaa", events.ActionEnable),
		exitEvent("aaaa", "3", "", ""), event("aaaa", types.ActionRestarting), event("aaaa", types.ActionRestart),
		exitEvent("aaaa", "139", "SIGSEGV", ""), event("aaaa", types.ActionRestarting),
		exitEvent("aaaa", "3", "", ""), event("aaaa", types.ActionRestarting),
		event("aaaa", types.ActionCall),
	} {
		rec.Event(m)
	}

	got := samples(t, reg)
	assert.Equal(t, map[string]float64{
		`plugdbg_plugin_up{id="aaaa",plugin="myvol:latest",type="volumedriver"}`:        1,
		`plugdbg_plugin_up{id="bbbb",plugin="net:1.0",type="networkdriver,ipamdriver"}`: 0,
		`plugdbg_plugin_restarts_total{plugin="myvol:latest"}`:                          3,
		`plugdbg_plugin_restarts_total{plugin="net:1.0"}`:                               0,
		`plugdbg_plugin_exits_total{plugin="myvol:latest",reason="SIGSEGV"}`:            1,
		`plugdbg_plugin_exits_total{plugin="myvol:latest",reason="exit_3"}`:             2,
		`plugdbg_plugin_log_lines_total{plugin="myvol:latest",stream="stdout"}`:         2,
		`plugdbg_plugin_log_lines_total{plugin="myvol:latest",stream="stderr"}`:         1,
		`plugdbg_plugin_log_lines_total{plugin="net:1.0",stream="stdout"}`:              0,
		`plugdbg_plugin_log_lines_total{plugin="net:1.0",stream="stderr"}`:              0,
		`plugdbg_plugin_log_bytes_total{plugin="myvol:latest",stream="stdout"}`:         8,
		`plugdbg_plugin_log_bytes_total{plugin="myvol:latest",stream="stderr"}`:         5,
		`plugdbg_plugin_log_bytes_total{plugin="net:1.0",stream="stdout"}`:              0,
		`plugdbg_plugin_log_bytes_total{plugin="net:1.0",stream="stderr"}`:              0,
		`plugdbg_plugin_log_lines_unstored_total{plugin="myvol:latest"}`:                5,
		`plugdbg_plugin_log_lines_unstored_total{plugin="net:1.0"}`:                     0,
		`plugdbg_log_followers{plugin="myvol:latest"}`:                                  2,
		`plugdbg_log_followers{plugin="net:1.0"}`:                                       1,
		`plugdbg_plugin_cpu_seconds_total{plugin="myvol:latest"}`:                       2.5,
		`plugdbg_plugin_memory_bytes{plugin="myvol:latest"}`:                            4096,
		`plugdbg_exec_sessions{plugin="myvol:latest"}`:                                  1,
		`plugdbg_exec_sessions{plugin="net:1.0"}`:                                       0,
		`plugdbg_exec_sessions_total{plugin="myvol:latest"}`:                            3,
		`plugdbg_exec_sessions_total{plugin="net:1.0"}`:                                 0,
		`plugdbg_plugin_enable_duration_seconds_count`:                                  0,
		`plugdbg_plugin_enable_duration_seconds_sum`:                                    0,
	}, got)

	// A removed plugin's counts go with it: a plugin made again under its
	// ID (never, but its name may come back) starts from nothing.
	rec.Event(event("aaaa", events.ActionRemove))
	got = samples(t, reg)
	assert.Zero(t, got[`plugdbg_plugin_restarts_total{plugin="myvol:latest"}`])
	assert.Empty(t, withPrefix(got, PluginExits))
}

// TestExitReason: the reason label is bounded: a signal's name, an exit
// code of 0 to 255, or unknown.
func TestExitReason(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  string
	}{
		{"code", map[string]string{"exitCode": "3"}, "exit_3"},
		{"zero", map[string]string{"exitCode": "0"}, "exit_0"},
		{"signal", map[string]string{"exitCode": "137", "signal": "SIGKILL"}, "SIGKILL"},
		{"lost monitor", map[string]string{"exitCode": "-1", "error": "monitor connection lost: EOF"}, "unknown"},
		{"code out of range", map[string]string{"exitCode": "256"}, "unknown"},
		{"no code", map[string]string{}, "unknown"},
		{"odd signal", map[string]string{"exitCode": "1", "signal": "sig<script>"}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ExitReason(tt.attrs))
		})
	}
}

// TestRequestsAndEnables: API requests count by route, method and code,
// and time by route, streams apart; enables are timed.
func TestRequestsAndEnables(t *testing.T) {
	_, _, rec, reg := testSources(t)
	rec.Request("/plugins/{name}/enable", "POST", 200, 300*time.Millisecond, false)
	rec.Request("/plugins/{name}/enable", "POST", 409, time.Millisecond, false)
	rec.Request("/plugins/{name}/logs", "GET", 200, time.Hour, true)
	rec.Enabled(250 * time.Millisecond)
	rec.Enabled(2 * time.Second)

	got := samples(t, reg)
	assert.Equal(t, map[string]float64{
		`plugdbg_api_requests_total{code="200",method="POST",route="/plugins/{name}/enable"}`: 1,
		`plugdbg_api_requests_total{code="409",method="POST",route="/plugins/{name}/enable"}`: 1,
		`plugdbg_api_requests_total{code="200",method="GET",route="/plugins/{name}/logs"}`:    1,
	}, withPrefix(got, APIRequests))
	assert.Equal(t, map[string]float64{
		`plugdbg_api_request_duration_seconds_count{route="/plugins/{name}/enable"}`: 2,
		`plugdbg_api_request_duration_seconds_sum{route="/plugins/{name}/enable"}`:   0.301,
	}, withPrefix(got, APIRequestDuration), "the stream is not timed")
	assert.Equal(t, 2.0, got[PluginEnableDuration+"_count"])
	assert.InDelta(t, 2.25, got[PluginEnableDuration+"_sum"], 1e-9)
}

// TestStatsFailures: a plugin that stopped since the list is skipped
// quietly; another failure fails that plugin's series only, and says why;
// reads stop once the scrape's budget is spent.
func TestStatsFailures(t *testing.T) {
	rt, _, _, reg := testSources(t)
	rt.plugins = append(rt.plugins,
		inspect("cccc", "gone:latest", types.StatusRunning, 0, "volumedriver"),
		inspect("dddd", "broken:latest", types.StatusRunning, 0, "volumedriver"),
		inspect("eeee", "stopped:latest", types.StatusRunning, 0, "volumedriver"))
	rt.errs = map[string]error{
		"cccc": errkind.Conflict(errors.New("cannot read stats of plugin gone:latest: it is not running (disabled)")),
		"dddd": errors.New("read container stats: permission denied"),
		"eeee": fmt.Errorf("load: %w", container.ErrNotRunning),
	}
	_, err := reg.Gather()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin broken:latest: read cgroup stats: read container stats: permission denied")
	assert.NotContains(t, err.Error(), "gone:latest")
	assert.NotContains(t, err.Error(), "stopped:latest")

	// With ContinueOnError (Handler), the rest is served, and the failure
	// logged.
	log, logged := quietLog()
	srv := httptest.NewServer(Handler(reg, log))
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	assert.Contains(t, body, `plugdbg_plugin_memory_bytes{plugin="myvol:latest"} 4096`)
	assert.Contains(t, body, `plugdbg_plugin_up{id="dddd",plugin="broken:latest",type="volumedriver"} 1`)
	assert.Contains(t, logged.String(), "plugin broken:latest: read cgroup stats")

	// A spent budget: no read at all, and the scrape says so.
	rt.errs = nil
	old := statsBudget
	statsBudget = -1
	t.Cleanup(func() { statsBudget = old })
	rt.reads = 0
	_, err = reg.Gather()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cgroup stats of 4 plugins skipped: reading them took more than -1ns")
	assert.Zero(t, rt.reads)
}

// fakeCalls is a CallSource.
type fakeCalls []types.CallStats

func (f fakeCalls) CallStats(context.Context) ([]types.CallStats, error) { return f, nil }

// callBuckets spreads a histogram given as bound → cumulative count over
// types.CallLatencyBuckets, as the recording point counts.
func callBuckets(m map[float64]uint64) []uint64 {
	out := make([]uint64, len(types.CallLatencyBuckets))
	var last uint64
	for i, le := range types.CallLatencyBuckets {
		if n, ok := m[le]; ok {
			last = n
		}
		out[i] = last
	}
	return out
}

// TestCalls: what a CallSource counted is exported as the call counter and
// latency histogram.
func TestCalls(t *testing.T) {
	rt := &fakeRuntime{}
	reg := prometheus.NewPedanticRegistry()
	calls := fakeCalls{{Name: "myvol:latest", Methods: []types.MethodCalls{
		{Method: "VolumeDriver.Mount", Statuses: map[string]uint64{"200": 7, "err": 2},
			Count: 9, Sum: 0.09, Buckets: callBuckets(map[float64]uint64{0.001: 1, 0.01: 8, 0.1: 9})},
		{Method: "VolumeDriver.List", Statuses: map[string]uint64{"200": 1},
			Count: 1, Sum: 0.0002, Buckets: callBuckets(map[float64]uint64{0.001: 1, 0.01: 1, 0.1: 1})},
	}}}
	require.NoError(t, Register(reg, Sources{Runtime: rt, Logs: new(logs.Hub), Recorder: NewRecorder(), Calls: calls}))
	got := samples(t, reg)
	assert.Equal(t, map[string]float64{
		`plugdbg_plugin_calls_total{method="VolumeDriver.Mount",plugin="myvol:latest",status="200"}`: 7,
		`plugdbg_plugin_calls_total{method="VolumeDriver.Mount",plugin="myvol:latest",status="err"}`: 2,
		`plugdbg_plugin_calls_total{method="VolumeDriver.List",plugin="myvol:latest",status="200"}`:  1,
	}, withPrefix(got, PluginCalls))
	assert.Equal(t, 9.0, got[`plugdbg_plugin_call_duration_seconds_count{method="VolumeDriver.Mount",plugin="myvol:latest"}`])
	assert.Equal(t, 0.0002, got[`plugdbg_plugin_call_duration_seconds_sum{method="VolumeDriver.List",plugin="myvol:latest"}`])
}

// get fetches url and requires status; it returns the body.
func get(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}

// TestHandler: /metrics serves plugdbg's metrics with the Go runtime's and
// the process's, / a page that links to them, and nothing else.
func TestHandler(t *testing.T) {
	rt, hub, rec, _ := testSources(t)
	reg, err := NewRegistry(Sources{Runtime: rt, Logs: hub, Recorder: rec})
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(reg, quietLogger()))
	defer srv.Close()

	body := get(t, srv.URL+"/metrics", http.StatusOK)
	for _, want := range []string{
		"# HELP plugdbg_plugin_up ", "# TYPE plugdbg_plugin_up gauge",
		"# TYPE plugdbg_plugin_restarts_total counter",
		"# TYPE plugdbg_plugin_enable_duration_seconds histogram",
		"go_goroutines ", "process_cpu_seconds_total ", "promhttp_metric_handler_requests_total",
	} {
		assert.Contains(t, body, want)
	}
	page := get(t, srv.URL+"/", http.StatusOK)
	assert.Contains(t, page, `<a href="/metrics">`)
	get(t, srv.URL+"/nosuch", http.StatusNotFound)
	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	_, err = NewRegistry(Sources{Runtime: rt})
	assert.ErrorContains(t, err, "required")
}
