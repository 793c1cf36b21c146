package metrics

import (
	"maps"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plugdbg/plugdbg/api/types"
)

// Recorder counts what happens between scrapes, as the manager
// (manager.Observer) and the API (api.RequestObserver) report it: crash
// restarts and exits from the manager's events, each seen once and none
// lost; enable durations; API requests. It is a prometheus.Collector of
// the histograms and request counters; the plugin collector reads the
// restart and exit counts, so that they are exported under each plugin's
// current name beside its other series. Safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	restarts map[string]uint64            // by plugin ID
	exits    map[string]map[string]uint64 // by plugin ID, then reason

	enable    prometheus.Histogram
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
}

// EnableBuckets are the bounds, in seconds, of enable durations: from a
// plugin that answers Plugin.Activate at once (tens of milliseconds for
// the container) to the default enable timeout (30s).
var EnableBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// APIBuckets are the bounds, in seconds, of API request durations: from a
// ping (well under a millisecond) to a pull of a large plugin (a minute).
var APIBuckets = []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60}

// NewRecorder returns a Recorder with nothing counted.
func NewRecorder() *Recorder {
	return &Recorder{
		restarts: map[string]uint64{},
		exits:    map[string]map[string]uint64{},
		enable: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    PluginEnableDuration,
			Help:    "Time an enable of a plugin took, through the API or the web UI, from its start to the plugin answering Plugin.Activate and being saved enabled. Failed enables are not counted.",
			Buckets: EnableBuckets,
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: APIRequests,
			Help: "Requests the daemon's API answered, by route template (/plugins/{name}/enable; \"other\" for paths it does not serve), method and status code (101 for an exec or a tunnel). Streams (events, logs, trace, stats, exec, connect, the web UI under /ui) count when they end.",
		}, []string{"route", "method", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    APIRequestDuration,
			Help:    "Time the daemon's API took to answer a request, by route template. Streams (events, logs, trace, stats, exec, connect, /ui), which last as long as their client watches, are not included.",
			Buckets: APIBuckets,
		}, []string{"route"}),
	}
}

// Event implements manager.Observer: it counts restarts (the manager's
// "restarting" events, one per State.RestartCount increment, crash or
// failed restart) and unexpected exits ("exit" events), and forgets a
// removed plugin.
func (r *Recorder) Event(m events.Message) {
	id := m.Actor.ID
	switch m.Action {
	case types.ActionRestarting:
		r.mu.Lock()
		r.restarts[id]++
		r.mu.Unlock()
	case types.ActionExit:
		reason := ExitReason(m.Actor.Attributes)
		r.mu.Lock()
		byReason := r.exits[id]
		if byReason == nil {
			byReason = map[string]uint64{}
			r.exits[id] = byReason
		}
		byReason[reason]++
		r.mu.Unlock()
	case events.ActionRemove:
		r.mu.Lock()
		delete(r.restarts, id)
		delete(r.exits, id)
		r.mu.Unlock()
	}
}

// Enabled implements manager.Observer.
func (r *Recorder) Enabled(d time.Duration) { r.enable.Observe(d.Seconds()) }

// Request implements api.RequestObserver.
func (r *Recorder) Request(route, method string, code int, d time.Duration, stream bool) {
	r.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	if !stream {
		r.durations.WithLabelValues(route).Observe(d.Seconds())
	}
}

// counts returns copies of the restart and exit counts.
func (r *Recorder) counts() (restarts map[string]uint64, exits map[string]map[string]uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	exits = make(map[string]map[string]uint64, len(r.exits))
	for id, m := range r.exits {
		exits[id] = maps.Clone(m)
	}
	return maps.Clone(r.restarts), exits
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.enable.Describe(ch)
	r.requests.Describe(ch)
	r.durations.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.enable.Collect(ch)
	r.requests.Collect(ch)
	r.durations.Collect(ch)
}

// signalName is what a signal attribute must look like to be a label.
var signalName = regexp.MustCompile(`^SIG[A-Z0-9]{1,12}$`)

// ExitReason is the reason label of an exit event's attributes (the
// manager's exitCode, signal and error): the signal's name ("SIGKILL"),
// else "exit_<code>" (0 to 255), else "unknown" (the monitor was lost, so
// the status is not known).
func ExitReason(attrs map[string]string) string {
	if s := attrs["signal"]; s != "" {
		if signalName.MatchString(s) {
			return s
		}
		return "unknown"
	}
	if attrs["error"] != "" {
		return "unknown"
	}
	code, err := strconv.Atoi(attrs["exitCode"])
	if err != nil || code < 0 || code > 255 {
		return "unknown"
	}
	return "exit_" + strconv.Itoa(code)
}
