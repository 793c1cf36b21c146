package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/container"
)

// pluginCollector reads the plugins' state at each scrape, from the
// manager, the log hub, the recorder's counts and the call source, and
// exports it as constant metrics: a scrape sees the state as it is, and a
// removed plugin's series go with it.
type pluginCollector struct {
	s Sources

	up, restarts, exits                *prometheus.Desc
	lines, bytes, unstored, followers  *prometheus.Desc
	cpu, memory, sessions, sessionsAll *prometheus.Desc
	calls, callDuration                *prometheus.Desc
}

// statsBudget bounds the time a scrape spends reading cgroup stats: the
// plugins left when it is spent are skipped (and the scrape says so), so
// that a host with many plugins or a slow cgroup filesystem still answers
// within the scrape timeout.
var statsBudget = 3 * time.Second

func newPluginCollector(s Sources) *pluginCollector {
	plugin := []string{"plugin"}
	return &pluginCollector{
		s:         s,
		up:        prometheus.NewDesc(PluginUp, "Whether the plugin runs (1) or not (0: disabled, starting, restarting or stopping), for every plugin the daemon knows. type is the plugin's interface types, comma-separated (volumedriver, networkdriver, ipamdriver, authz, logdriver, metricscollector).", []string{"plugin", "id", "type"}, nil),
		restarts:  prometheus.NewDesc(PluginRestarts, "Restarts of the plugin the daemon scheduled after a crash or a failed restart since it started (its State.RestartCount counts the same, but from the last enable).", plugin, nil),
		exits:     prometheus.NewDesc(PluginExits, "Exits of the plugin the daemon did not ask for (the exit events), by reason: exit_<code>, the signal's name (SIGKILL), or unknown when the plugin's monitor was lost.", []string{"plugin", "reason"}, nil),
		lines:     prometheus.NewDesc(PluginLogLines, "Lines the plugin wrote that reached the daemon, by stream (stdout, stderr). A line longer than 64 KiB counts once.", []string{"plugin", "stream"}, nil),
		bytes:     prometheus.NewDesc(PluginLogBytes, "Bytes of the lines the plugin wrote that reached the daemon, by stream, without newlines.", []string{"plugin", "stream"}, nil),
		unstored:  prometheus.NewDesc(PluginLogLinesUnstored, "Lines of the plugin's output its log history could not take (a full disk, --log-reserve, an unwritable log directory): they reached the daemon log and live followers only (inspect's State.UnstoredLines).", plugin, nil),
		followers: prometheus.NewDesc(LogFollowers, "Live followers of the plugin's lines (logs -f, the web UI); a follower of every plugin counts for each.", plugin, nil),
		cpu:       prometheus.NewDesc(PluginCPU, "CPU time the running plugin's cgroup used, from its cgroup's counters (starts again from 0 when the plugin restarts).", plugin, nil),
		memory:    prometheus.NewDesc(PluginMemory, "Memory the running plugin's cgroup uses, without its inactive page cache, as plugdbg stats shows it.", plugin, nil),
		sessions:  prometheus.NewDesc(ExecSessions, "Exec sessions in the plugin (plugdbg exec, the web UI's terminal) whose process runs now.", plugin, nil),
		sessionsAll: prometheus.NewDesc(ExecSessionsTotal,
			"Exec sessions started in the plugin (plugdbg exec, the web UI's terminal); a command that could not start is not counted.", plugin, nil),
		calls:        prometheus.NewDesc(PluginCalls, "Calls to an observed plugin, by method and status: the answer's HTTP code, or err for an answer with a non-empty Err.", []string{"plugin", "method", "status"}, nil),
		callDuration: prometheus.NewDesc(PluginCallDuration, "Latency of the calls to an observed plugin, by method, from the request to the end of the answer as the recording point saw them.", []string{"plugin", "method"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.up, c.restarts, c.exits, c.lines, c.bytes, c.unstored, c.followers,
		c.cpu, c.memory, c.sessions, c.sessionsAll, c.calls, c.callDuration,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads each source once.
func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	plugins := c.s.Runtime.List()
	counts := c.s.Logs.Counts()
	followedBy, followAll := c.s.Logs.Followers()
	execs := c.s.Runtime.ExecSessions()
	restarts, exits := c.s.Recorder.counts()

	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	skipped := 0
	for _, p := range plugins {
		name := p.Name
		running := p.State.Status == types.StatusRunning
		up := 0.0
		if running {
			up = 1
		}
		gauge(c.up, up, name, p.ID, interfaceTypes(p))
		counter(c.restarts, float64(restarts[p.ID]), name)
		for reason, n := range exits[p.ID] {
			counter(c.exits, float64(n), name, reason)
		}
		lc := counts[p.ID]
		counter(c.lines, float64(lc.StdoutLines), name, logs.Stdout)
		counter(c.lines, float64(lc.StderrLines), name, logs.Stderr)
		counter(c.bytes, float64(lc.StdoutBytes), name, logs.Stdout)
		counter(c.bytes, float64(lc.StderrBytes), name, logs.Stderr)
		counter(c.unstored, float64(p.State.UnstoredLines), name)
		gauge(c.followers, float64(followedBy[p.ID]+followAll), name)
		es := execs[p.ID]
		gauge(c.sessions, float64(es.Running), name)
		counter(c.sessionsAll, float64(es.Total), name)
		if !running {
			continue
		}
		if time.Since(start) > statsBudget {
			skipped++
			continue
		}
		st, err := c.s.Runtime.Stats(p.ID)
		switch {
		case err == nil:
			counter(c.cpu, float64(st.CPUUsage)/1e9, name)
			gauge(c.memory, float64(st.MemoryUsage), name)
		case stoppedMeanwhile(err):
			// It stopped since List: it has no cgroup to read now.
		default:
			ch <- prometheus.NewInvalidMetric(c.cpu, fmt.Errorf("plugin %s: read cgroup stats: %w", name, err))
		}
	}
	if skipped > 0 {
		ch <- prometheus.NewInvalidMetric(c.cpu, fmt.Errorf("cgroup stats of %d plugins skipped: reading them took more than %s", skipped, statsBudget))
	}
	if c.s.Calls != nil {
		c.collectCalls(ch)
	}
}

// callsBudget bounds reading the recording points' counters, within
// Prometheus' default scrape timeout (10 s) with the rest of the scrape.
const callsBudget = 4 * time.Second

// collectCalls exports what the call source counted.
func (c *pluginCollector) collectCalls(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), callsBudget)
	defer cancel()
	stats, err := c.s.Calls.CallStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.calls, fmt.Errorf("read observed plugins' calls: %w", err))
	}
	for _, st := range stats {
		for _, mc := range st.Methods {
			for status, n := range mc.Statuses {
				ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(n), st.Name, mc.Method, status)
			}
			buckets := make(map[float64]uint64, len(types.CallLatencyBuckets))
			for i, le := range types.CallLatencyBuckets {
				if i < len(mc.Buckets) {
					buckets[le] = mc.Buckets[i]
				}
			}
			h, err := prometheus.NewConstHistogram(c.callDuration, mc.Count, mc.Sum, buckets, st.Name, mc.Method)
			if err != nil {
				h = prometheus.NewInvalidMetric(c.callDuration, err)
			}
			ch <- h
		}
	}
}

// stoppedMeanwhile reports whether a stats error says the plugin no longer
// runs (or no longer exists): the manager's conflict and not-found kinds,
// or the container's own word.
func stoppedMeanwhile(err error) bool {
	return errdefs.IsConflict(err) || errdefs.IsNotFound(err) || errors.Is(err, container.ErrNotRunning)
}

// interfaceTypes is the type label of a plugin: its interface types'
// capabilities, "docker.volumedriver/1.0" → "volumedriver", joined by
// commas in the config's order.
func interfaceTypes(p types.Inspect) string {
	caps := make([]string, 0, len(p.Config.Interface.Types))
	for _, t := range p.Config.Interface.Types {
		caps = append(caps, t.Capability)
	}
	return strings.Join(caps, ",")
}
