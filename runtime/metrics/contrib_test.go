package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// contribDir is the repository's contrib/, from this package's directory.
const contribDir = "../../contrib"

// promtool returns the path of Prometheus' promtool, or skips the test:
// scripts/deps.sh test installs it (Debian's prometheus package).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install --no-install-recommends prometheus; scripts/deps.sh test does): contrib/prometheus and the metrics format are not checked")
	}
	return p
}

// runPromtool runs promtool with args (and stdin) and requires success.
func runPromtool(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// TestContribPrometheus: the scrape config and the alert rules of
// contrib/prometheus pass promtool's checks, and the rules' unit tests
// (alerts_test.yml) pass.
func TestContribPrometheus(t *testing.T) {
	dir := filepath.Join(contribDir, "prometheus")
	runPromtool(t, nil, "check", "rules", filepath.Join(dir, "alerts.yml"))
	runPromtool(t, nil, "check", "config", filepath.Join(dir, "prometheus.yml"))
	runPromtool(t, nil, "test", "rules", filepath.Join(dir, "alerts_test.yml"))
}

// TestMetricsFormat scrapes a registry fed by every collector, with
// plugins in several states and calls of an observed plugin, and has
// promtool check the exposition: types, HELP, names, units.
func TestMetricsFormat(t *testing.T) {
	rt, hub, rec, _ := testSources(t)
	hub.Publish(logs.Batch{Plugin: "aaaa", Entries: []logs.Entry{{Seq: 1, Stream: logs.Stdout, Line: "hello"}}})
	rec.Event(exitEvent("aaaa", "3", "", ""))
	rec.Event(exitEvent("aaaa", "137", "SIGKILL", ""))
	rec.Event(event("aaaa", "restarting"))
	rec.Enabled(42e6)
	rec.Request("/plugins/{name}/json", "GET", 200, 1e6, false)
	rec.Request("/events", "GET", 200, 1e9, true)
	calls := fakeCalls{{Name: "myvol:latest", Methods: []types.MethodCalls{{Method: "VolumeDriver.Mount", Statuses: map[string]uint64{"200": 3, "err": 1},
		Count: 4, Sum: 0.01, Buckets: callBuckets(map[float64]uint64{0.001: 1, 0.01: 4})}}}}
	reg, err := NewRegistry(Sources{Runtime: rt, Logs: hub, Recorder: rec, Calls: calls})
	require.NoError(t, err)
	srv := httptest.NewServer(Handler(reg, quietLogger()))
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", 200)
	for _, name := range Names {
		assert.Contains(t, body, "# HELP "+name+" ", "every metric of the contract is exported")
	}
	out := runPromtool(t, []byte(body), "check", "metrics")
	t.Logf("promtool check metrics: %s", out)
}

// metricName finds the plugdbg metric names in a text.
var metricName = regexp.MustCompile(`\bplugdbg_[a-z_]+\b`)

// known reports whether name is one of Names, or a histogram's series.
func known(name string) bool {
	if slices.Contains(Names, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(Names, base) {
			return true
		}
	}
	return false
}

// dashboardExprs returns the PromQL expressions of a Grafana dashboard's
// panels and variables.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var d struct {
		Title  string
		Panels []struct {
			Type    string
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &d), "the dashboard is JSON")
	require.Equal(t, "plugdbg", d.Title)
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has a query", p.Title)
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if inner, ok := strings.CutPrefix(v.Definition, "label_values("); ok {
			// label_values(SELECTOR, label): the selector is PromQL.
			i := strings.LastIndex(inner, ",")
			exprs = append(exprs, inner[:i])
		}
	}
	return exprs
}

// TestContribNames: the rules, the scrape config and the dashboard use
// only metric names of the contract (so that renaming one fails here),
// and the dashboard's queries are PromQL that promtool accepts, with
// Grafana's variables filled in.
func TestContribNames(t *testing.T) {
	dash := filepath.Join(contribDir, "grafana", "plugdbg.json")
	exprs := dashboardExprs(t, dash)
	used := map[string]bool{}
	for _, f := range []string{filepath.Join(contribDir, "prometheus", "alerts.yml"), filepath.Join(contribDir, "prometheus", "alerts_test.yml"), dash} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, name := range metricName.FindAllString(string(b), -1) {
			assert.True(t, known(name), "%s uses %s, which is not a metric of the contract", filepath.Base(f), name)
			used[name] = true
		}
	}
	for _, name := range []string{PluginUp, PluginRestarts, PluginExits, PluginLogLines, PluginCPU, PluginMemory, APIRequests, PluginCalls, PluginCallDuration + "_bucket"} {
		assert.True(t, used[name], "the dashboard or the rules use %s", name)
	}

	// Every query as a recording rule, for promtool to parse.
	fill := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$plugin", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, err := json.Marshal(fill.Replace(e))
		require.NoError(t, err)
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard.yml")
	require.NoError(t, os.WriteFile(path, []byte(rules.String()), 0o644))
	runPromtool(t, nil, "check", "rules", path)
}
