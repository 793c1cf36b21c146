// Package metrics exports the daemon as Prometheus metrics (--metrics-addr):
// the state of every plugin read from the manager at scrape time (up,
// cgroup CPU and memory, exec sessions, log lines, followers), what
// happened between scrapes as the manager and the API report it (restarts,
// exits, enable durations, API requests), and, through CallSource, the calls
// of observed plugins. The metric names and labels are a contract,
// documented in the README; labels hold plugin names, routes and codes, never
// unbounded values (an ID only in plugdbg_plugin_up).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/manager"
)

// The names of plugdbg's metrics: a contract with dashboards and alert
// rules (contrib/), documented in the README. Change none of them.
const (
	PluginUp               = "plugdbg_plugin_up"
	PluginRestarts         = "plugdbg_plugin_restarts_total"
	PluginExits            = "plugdbg_plugin_exits_total"
	PluginEnableDuration   = "plugdbg_plugin_enable_duration_seconds"
	PluginLogLines         = "plugdbg_plugin_log_lines_total"
	PluginLogBytes         = "plugdbg_plugin_log_bytes_total"
	PluginLogLinesUnstored = "plugdbg_plugin_log_lines_unstored_total"
	LogFollowers           = "plugdbg_log_followers"
	PluginCPU              = "plugdbg_plugin_cpu_seconds_total"
	PluginMemory           = "plugdbg_plugin_memory_bytes"
	ExecSessions           = "plugdbg_exec_sessions"
	ExecSessionsTotal      = "plugdbg_exec_sessions_total"
	APIRequests            = "plugdbg_api_requests_total"
	APIRequestDuration     = "plugdbg_api_request_duration_seconds"
	// The calls of observed plugins, from a CallSource.
	PluginCalls        = "plugdbg_plugin_calls_total"
	PluginCallDuration = "plugdbg_plugin_call_duration_seconds"
)

// Names lists every metric name of the contract, for tests and docs.
var Names = []string{
	PluginUp, PluginRestarts, PluginExits, PluginEnableDuration,
	PluginLogLines, PluginLogBytes, PluginLogLinesUnstored, LogFollowers,
	PluginCPU, PluginMemory, ExecSessions, ExecSessionsTotal,
	APIRequests, APIRequestDuration, PluginCalls, PluginCallDuration,
}

// Runtime is what the collector reads of the plugin manager at each
// scrape; *manager.Manager is one. Its methods must be safe for concurrent
// use.
type Runtime interface {
	// List returns every plugin, enabled or not.
	List() []types.Inspect
	// Stats samples the cgroup counters of running plugin ref (an ID).
	Stats(ref string) (types.Stats, error)
	// ExecSessions returns the exec sessions of every plugin, by ID.
	ExecSessions() map[string]manager.ExecSessions
}

// Logs is what the collector reads of the plugins' lines at each scrape;
// *logs.Hub is one.
type Logs interface {
	// Counts returns each plugin's lines and bytes, by ID.
	Counts() map[string]logs.LineCounts
	// Followers returns each plugin's live followers, by ID, and those of
	// every plugin.
	Followers() (byPlugin map[string]int, all int)
}

// CallSource gives the calls of observed plugins, as their recording
// points (in each plugin's monitor) counted them: the manager's
// CallStats. The collector asks it at each scrape, within callsBudget, and
// exports plugdbg_plugin_calls_total and
// plugdbg_plugin_call_duration_seconds from what it returns; the plugins
// it could not read are in its error, the others are exported all the
// same. It must be safe for concurrent use.
type CallSource interface {
	CallStats(ctx context.Context) ([]types.CallStats, error)
}

// Sources are what the daemon's metrics come from.
type Sources struct {
	Runtime  Runtime
	Logs     Logs
	Recorder *Recorder  // what the manager and the API report between scrapes
	Calls    CallSource // nil: no call metrics
}

// NewRegistry returns a registry of its own (not Prometheus' global one)
// holding plugdbg's metrics from s, and the Go runtime's and the daemon
// process's (go_*, process_*).
func NewRegistry(s Sources) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, s); err != nil {
		return nil, err
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

// Register registers plugdbg's own collectors from s with reg (tests use
// prometheus.NewPedanticRegistry).
// What a scrape could not read (a plugin's cgroup stats) is reported to
// the scraper, and to Handler's log.
func Register(reg prometheus.Registerer, s Sources) error {
	if s.Runtime == nil || s.Logs == nil || s.Recorder == nil {
		return errors.New("metrics: a runtime, logs and a recorder are required")
	}
	for _, c := range []prometheus.Collector{
		newPluginCollector(s),
		s.Recorder,
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// scrapeTimeout bounds a scrape's answer: below Prometheus' default
// scrape_timeout (10s), so that the scraper gets a 503 that says why
// rather than a timeout of its own.
const scrapeTimeout = 9 * time.Second

// Handler serves reg's metrics on /metrics in Prometheus' text format (or
// another it negotiates), and a page at / that links to them. A scrape
// whose collection partly failed still gets what could be read; the
// failures go to log, and are counted in
// promhttp_metric_handler_errors_total.
func Handler(reg *prometheus.Registry, log logrus.FieldLogger) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: 4,
		Timeout:             scrapeTimeout,
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, h))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, landingPage, html.EscapeString("plugdbgd"))
	})
	return mux
}

const landingPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>%[1]s metrics</title></head>
<body><h1>%[1]s</h1><p><a href="/metrics">Metrics</a> (Prometheus text format)</p></body></html>
`

// promLogger is promhttp's Logger on logrus, at warning level: a scrape
// that could not read everything is worth knowing of, but the daemon runs
// on.
type promLogger struct{ log logrus.FieldLogger }

func (l promLogger) Println(v ...any) { l.log.Warn(append([]any{"metrics: "}, v...)...) }
