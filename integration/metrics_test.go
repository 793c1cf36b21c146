package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

// metricsAddr is the address d serves its metrics on, as its log says it
// ("metrics: Prometheus metrics on http://127.0.0.1:PORT/metrics"): the
// daemon is given port 0 and binds a free one itself.
func metricsAddr(t *testing.T, d *daemon) string {
	t.Helper()
	m := regexp.MustCompile(`Prometheus metrics on http://(127\.0\.0\.1:[0-9]+)/metrics`).FindStringSubmatch(d.daemonLog())
	require.NotNil(t, m, "no metrics address in the daemon log:\n%s", d.daemonLog())
	return m[1]
}

// prometheus is a Prometheus server of a test, scraping one target.
type prometheus struct {
	api string // http://127.0.0.1:PORT
	log string // its output
}

// startPrometheus runs Debian's Prometheus server on a temporary config
// (scraping target every second) and storage, on a free loopback port it
// picks itself and logs, and waits until it is ready. It is stopped when
// the test ends.
func startPrometheus(t *testing.T, bin, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: plugdbg
    static_configs:
      - targets: ['%s']
`, target)), 0o644))
	p := &prometheus{log: filepath.Join(dir, "prometheus.log")}
	out, err := os.Create(p.log)
	require.NoError(t, err)
	defer out.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--log.level=info")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("prometheus log:\n%s", tail(string(b), 16<<10))
		}
	})
	listening := regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:[0-9]+)`)
	eventuallyShow(t, func() bool {
		b, _ := os.ReadFile(p.log)
		if m := listening.FindSubmatch(b); m != nil {
			p.api = "http://" + string(m[1])
		}
		return p.api != "" && httpStatus(p.api+"/-/ready") == http.StatusOK
	}, readyTimeout, func() string {
		b, _ := os.ReadFile(p.log)
		return "prometheus not ready; its log:\n" + tail(string(b), 8<<10)
	})
	return p
}

// httpStatus is the status of GET url, 0 if there is no answer.
func httpStatus(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// query evaluates a PromQL expression whose answer is one sample, through
// Prometheus' HTTP API, and returns its value; ok is false while there is
// no such sample (not scraped yet).
func (p *prometheus) query(t *testing.T, expr string) (v float64, ok bool) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(p.api + "/api/v1/query?query=" + url.QueryEscape(expr))
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, "query %s: %s", expr, r.Error)
	require.Equal(t, "vector", r.Data.ResultType)
	require.LessOrEqual(t, len(r.Data.Result), 1, "query %s: one sample at most", expr)
	if len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v, true
}

// waitQuery waits until Prometheus answers want for expr; want is asked
// again at each poll (it may be a count the daemon is still reaching).
func (p *prometheus) waitQuery(t *testing.T, expr string, want func() float64) {
	t.Helper()
	var got float64
	var ok bool
	var w float64
	eventuallyShow(t, func() bool {
		w = want()
		got, ok = p.query(t, expr)
		return ok && got == w
	}, waitTimeout, func() string {
		return fmt.Sprintf("%s: Prometheus answers %v (a sample: %v), want %v", expr, got, ok, w)
	})
}

// TestMetricsPrometheus runs a real Prometheus server (Debian's) scraping
// a daemon started with --metrics-addr: a plugin that crashes and is
// restarted N times shows N in plugdbg_plugin_restarts_total, its exits by
// reason, a running plugin is up, the enables are counted by route; and
// the daemon's live /metrics passes promtool check metrics.
func TestMetricsPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus server (Debian's prometheus package; scripts/deps.sh test installs it)")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool (Debian's prometheus package; scripts/deps.sh test installs it)")
	}
	d := startDaemonWith(t, "--ui-addr", "", "--metrics-addr", "127.0.0.1:0")
	target := metricsAddr(t, d)
	assert.NotContains(t, d.daemonLog(), "not a loopback address")

	d.create(t, "steady", "volume")
	d.enable(t, "steady")
	// An observed plugin: every call on its socket is counted in its
	// monitor, and Prometheus must see exactly the calls made.
	d.create(t, "watched", "volume")
	_, stderr, code := d.cli(t, "observe", "watched")
	require.Equal(t, 0, code, "observe: %s", stderr)
	watched := d.enable(t, "watched")
	const calls = 37
	probeCalls(t, d.host, watched.State.Socket, calls)
	crashy := d.create(t, "crashy", "crasher", "CRASH_AFTER=150ms")
	d.enable(t, "crashy")
	// A few crashes, each restarted, then a disable ends the loop.
	eventually(t, func() bool { return d.inspect(t, "crashy").State.RestartCount >= 3 }, waitTimeout, "crashy restarted 3 times")
	require.NoError(t, d.client.Disable(testCtx(t), "crashy", false))
	restarts := d.inspect(t, "crashy").State.RestartCount

	// The exits the daemon reported, from its recent events (until now:
	// the answer ends with them).
	exitEvents := func() float64 {
		hc := unixHTTP(d.sock, 10*time.Second)
		defer hc.CloseIdleConnections()
		now := time.Now()
		resp, err := hc.Get(fmt.Sprintf("http://plugdbg/events?since=1&until=%d.%09d", now.Unix(), now.Nanosecond()))
		require.NoError(t, err)
		defer resp.Body.Close()
		n := 0
		dec := json.NewDecoder(resp.Body)
		for {
			var m events.Message
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else {
				require.NoError(t, err)
			}
			if m.Action == types.ActionExit && m.Actor.ID == crashy.ID {
				n++
			}
		}
		return float64(n)
	}

	p := startPrometheus(t, promBin, target)
	p.waitQuery(t, `plugdbg_plugin_restarts_total{plugin="crashy:latest"}`, func() float64 {
		return float64(d.inspect(t, "crashy").State.RestartCount)
	})
	assert.Equal(t, restarts, d.inspect(t, "crashy").State.RestartCount, "no restart after the disable")
	p.waitQuery(t, `sum(plugdbg_plugin_exits_total{plugin="crashy:latest"})`, exitEvents)
	p.waitQuery(t, `plugdbg_plugin_exits_total{plugin="crashy:latest",reason="exit_3"}`, exitEvents)
	// Every line of its history, counted as the daemon received them.
	history := func(stream string, bytes bool) func() float64 {
		return func() float64 {
			n := 0
			require.NoError(t, d.client.Logs(testCtx(t), "crashy", client.LogsOptions{Stream: stream}, func(l types.LogLine) error {
				if bytes {
					n += len(l.Line)
				} else if !l.Partial {
					n++
				}
				return nil
			}))
			return float64(n)
		}
	}
	p.waitQuery(t, `plugdbg_plugin_log_lines_total{plugin="crashy:latest",stream="stdout"}`, history("stdout", false))
	p.waitQuery(t, `plugdbg_plugin_log_bytes_total{plugin="crashy:latest",stream="stdout"}`, history("stdout", true))
	p.waitQuery(t, `plugdbg_plugin_log_lines_total{plugin="crashy:latest",stream="stderr"}`, history("stderr", false))
	p.waitQuery(t, `plugdbg_plugin_up{plugin="steady:latest",type="volumedriver"}`, func() float64 { return 1 })
	p.waitQuery(t, `plugdbg_plugin_up{plugin="crashy:latest"}`, func() float64 { return 0 })
	p.waitQuery(t, `sum(plugdbg_plugin_restarts_total{plugin="steady:latest"})`, func() float64 { return 0 })
	p.waitQuery(t, `sum(plugdbg_api_requests_total{route="/plugins/{name}/enable",method="POST",code="200"})`, func() float64 { return 3 })
	p.waitQuery(t, `plugdbg_plugin_enable_duration_seconds_count`, func() float64 { return 3 })
	p.waitQuery(t, `count(plugdbg_plugin_memory_bytes{plugin="steady:latest"} > 0)`, func() float64 { return 1 })
	p.waitQuery(t, `up{job="plugdbg"}`, func() float64 { return 1 })
	p.waitQuery(t, `plugdbg_plugin_calls_total{plugin="watched:latest",method="VolumeDriver.List",status="200"}`, func() float64 { return calls })
	p.waitQuery(t, `plugdbg_plugin_call_duration_seconds_count{plugin="watched:latest",method="VolumeDriver.List"}`, func() float64 { return calls })
	p.waitQuery(t, `sum(plugdbg_plugin_calls_total{plugin="watched:latest",method="Plugin.Activate"}) >= 1`, func() float64 { return 1 })

	// The live exposition, as promtool checks it.
	resp, err := http.Get("http://" + target + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics:\n%s", out)
	assert.Contains(t, string(body), "process_cpu_seconds_total")
	assert.Contains(t, string(body), "go_goroutines")
	// The landing page links to the metrics.
	resp, err = http.Get("http://" + target + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), `href="/metrics"`)
}
