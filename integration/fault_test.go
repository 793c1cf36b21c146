package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

// faultRounds is how many times TestDaemonKilledAtRandom kills the daemon;
// PLUGDBG_FAULT_ROUNDS overrides it.
const faultRounds = 80

// faultOps are the operations the daemon is killed in, with a first guess
// of how long each takes here; the test then learns it from the rounds
// that end before the kill, so that kills fall all along the operation (and
// a few after it) on fast and slow machines alike.
var faultOps = []struct {
	name  string
	guess time.Duration
}{
	{"enable", 150 * time.Millisecond},
	// An enable that times out: the plugin never creates its socket, and
	// the daemon stops it again after enableTimeout.
	{"enable (times out)", enableTimeout + 50*time.Millisecond},
	{"disable", 20 * time.Millisecond},
	{"disable -f", 15 * time.Millisecond},
	{"set", 3 * time.Millisecond},
	{"rm", 10 * time.Millisecond},
	{"rm -f", 30 * time.Millisecond},
}

// enableTimeout is the timeout of the enables meant to time out.
const enableTimeout = 300 * time.Millisecond

// TestDaemonKilledAtRandom kills the daemon with SIGKILL at random points
// of enable, disable, set and rm, starts it again, and checks each time
// that inspect, the processes, the sockets and the files agree (see
// reconciled): whatever the daemon was doing, the next one finishes or
// undoes it. The points come from a seeded random source; the seed is
// logged, and PLUGDBG_FAULT_SEED replays a run.
func TestDaemonKilledAtRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PLUGDBG_FAULT_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "PLUGDBG_FAULT_SEED")
	}
	rounds := faultRounds
	if s := os.Getenv("PLUGDBG_FAULT_ROUNDS"); s != "" {
		var err error
		rounds, err = strconv.Atoi(s)
		require.NoError(t, err, "PLUGDBG_FAULT_ROUNDS")
	}
	t.Logf("seed %d (replay with PLUGDBG_FAULT_SEED=%d), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, seed>>32|1))
	begin := time.Now()

	d := startDaemon(t)
	names := []string{"p0", "p1", "p2"}
	var gone []string // IDs of plugins removed
	// A context per round: the whole test can take minutes (80 rounds
	// under -race on a loaded machine), more than testCtx's bound.
	var ctx context.Context
	plugin := func(name string) (types.Inspect, bool) {
		p, err := d.client.Inspect(ctx, name)
		if client.IsNotFound(err) {
			return p, false
		}
		require.NoError(t, err, "inspect %s", name)
		return p, true
	}

	took := map[string]time.Duration{} // how long each operation takes, as last seen
	for _, op := range faultOps {
		took[op.name] = op.guess
	}
	type tally struct{ rounds, killedDuring int }
	perOp := map[string]*tally{}
	fixes := map[string]int{}
	var restarts time.Duration
	failed := 0
	for round := 1; round <= rounds; round++ {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		op := faultOps[rng.IntN(len(faultOps))]
		name, kind := names[rng.IntN(len(names))], "volume"
		if op.name == "enable (times out)" {
			name, kind = "nosock", "nosocket"
		}
		p, ok := plugin(name)
		if !ok {
			d.create(t, name, kind)
			p, _ = plugin(name)
		}
		// Bring the plugin where the operation applies, with no fault.
		wantEnabled := map[string]bool{"enable": false, "disable": true, "disable -f": true, "set": false, "rm": false, "rm -f": true}
		if want, ok := wantEnabled[op.name]; ok && p.Enabled != want {
			if want {
				require.NoError(t, d.client.Enable(ctx, name, 30*time.Second), "round %d: enable %s first", round, name)
			} else {
				require.NoError(t, d.client.Disable(ctx, name, false), "round %d: disable %s first", round, name)
			}
			p, _ = plugin(name)
		}
		debug := "1"
		if rng.IntN(2) == 0 {
			debug = "0"
		}
		debugBefore := envValue(p, "DEBUG")

		type result struct {
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		sent := time.Now()
		go func() {
			// Not ctx: the request dies with the daemon, on purpose.
			bg := context.Background()
			var err error
			switch op.name {
			case "enable":
				err = d.client.Enable(bg, name, 30*time.Second)
			case "enable (times out)":
				err = d.client.Enable(bg, name, enableTimeout)
			case "disable":
				err = d.client.Disable(bg, name, false)
			case "disable -f":
				err = d.client.Disable(bg, name, true)
			case "set":
				err = d.client.Set(bg, name, []string{"DEBUG=" + debug})
			case "rm":
				err = d.client.Remove(bg, name, false)
			case "rm -f":
				err = d.client.Remove(bg, name, true)
			}
			done <- result{err, time.Now()}
		}()
		// Up to 10% past the operation's usual end.
		kill := time.Duration(rng.Float64() * 1.1 * float64(took[op.name]))
		finished := false
		var opErr error
		select {
		case <-time.After(kill):
		case r := <-done:
			finished, opErr = true, r.err
			took[op.name] = (took[op.name] + r.at.Sub(sent)) / 2
		}
		if !finished && kill > took[op.name]*9/10 {
			took[op.name] = took[op.name] * 5 / 4 // longer than thought
		}
		d.kill9()
		if !finished {
			<-done
		}
		t0 := time.Now()
		d.start()
		restarts += time.Since(t0)

		tl := perOp[op.name]
		if tl == nil {
			tl = &tally{}
			perOp[op.name] = tl
		}
		tl.rounds++
		if !finished {
			tl.killedDuring++
		}
		point := fmt.Sprintf("round %d: %s %s, killed %s after the request (%s)", round, op.name, name, kill.Round(time.Microsecond),
			map[bool]string{true: fmt.Sprintf("it had ended: %v", opErr), false: "it was under way"}[finished])

		var problems []string
		q, exists := plugin(name)
		if !exists {
			gone = append(gone, p.ID)
		} else if got := envValue(q, "DEBUG"); op.name == "set" && got != debugBefore && got != debug {
			problems = append(problems, fmt.Sprintf("set: DEBUG=%q, neither the old %q nor the new %q", got, debugBefore, debug))
		}
		if finished && opErr == nil {
			// What the daemon confirmed, it kept.
			switch {
			case (op.name == "rm" || op.name == "rm -f") && exists:
				problems = append(problems, "rm confirmed, but the plugin is back")
			case op.name == "enable (times out)":
				problems = append(problems, "an enable of a plugin that creates no socket succeeded")
			case op.name == "enable" && !q.Enabled, strings.HasPrefix(op.name, "disable") && q.Enabled:
				problems = append(problems, op.name+" confirmed, but undone")
			case op.name == "set" && envValue(q, "DEBUG") != debug:
				problems = append(problems, "set confirmed, but undone")
			}
		}
		problems = append(problems, d.reconciled(t, gone)...)
		problems = append(problems, d.strayProcesses(t)...)
		log := d.daemonLog()
		for _, bad := range []string{"exited unexpectedly", "exited while no daemon was running"} {
			for _, l := range logLines(log, bad) {
				problems = append(problems, "a stop reported as a crash: "+l)
			}
		}
		for _, q := range d.list(t) {
			if q.State.RestartCount != 0 {
				problems = append(problems, fmt.Sprintf("%s: restart count %d: a stop counted as a crash", q.Name, q.State.RestartCount))
			}
		}
		for what, sub := range map[string]string{
			"stopped a run of a disabled plugin": "it runs but is not enabled",
			"removed what a run left":            "removing what a run of plugin",
			"removed what a removed plugin left": "is not in the store",
			"cleaned up before starting again":   "removing what the last run of plugin",
			"restarted a run stopped on request": "at an earlier daemon's request",
			"reattached to a running plugin":     "reattached to plugin",
			"started an enabled plugin again":    "started plugin",
		} {
			fixes[what] += len(logLines(log, sub))
		}
		if len(problems) > 0 {
			failed++
			t.Errorf("%s:\n  %s", point, strings.Join(problems, "\n  "))
		} else {
			t.Log(point + ": consistent")
		}
	}

	// A crash report anywhere, even after a round's checks, is a stop
	// taken for a crash: no plugin here crashes by itself.
	for i, log := range d.allDaemonLogs() {
		for _, bad := range []string{"exited unexpectedly", "exited while no daemon was running"} {
			for _, l := range logLines(log, bad) {
				t.Errorf("daemon %d reported a crash: %s", i+1, l)
			}
		}
	}

	var sum strings.Builder
	fmt.Fprintf(&sum, "%d rounds (seed %d) in %s, %d inconsistent; daemon restarts took %s in all\n", rounds, seed,
		time.Since(begin).Round(time.Millisecond), failed, restarts.Round(time.Millisecond))
	ops := make([]string, 0, len(perOp))
	for op := range perOp {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Fprintf(&sum, "  %-18s %3d rounds, %3d killed while under way\n", op, perOp[op].rounds, perOp[op].killedDuring)
	}
	whats := make([]string, 0, len(fixes))
	for w := range fixes {
		whats = append(whats, w)
	}
	slices.Sort(whats)
	sum.WriteString("what the restarted daemons did:\n")
	for _, w := range whats {
		fmt.Fprintf(&sum, "  %-38s %d\n", w, fixes[w])
	}
	t.Log(sum.String())
}

// envValue is the value of a plugin's setting name, from its Settings.
func envValue(p types.Inspect, name string) string {
	for _, kv := range p.Settings.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// list returns every plugin.
func (d *daemon) list(t *testing.T) []types.Inspect {
	t.Helper()
	list, err := d.client.List(testCtx(t), client.ListOptions{})
	require.NoError(t, err, "list plugins")
	return list
}

// strayProcesses reports the processes of d's directory that should not
// run: every one but the daemon, one monitor per enabled plugin and the
// spare monitor. A killed daemon's spare exits by itself once it sees the
// daemon gone; it is waited for.
func (d *daemon) strayProcesses(t *testing.T) []string {
	t.Helper()
	allowed := map[int]bool{d.proc.cmd.Process.Pid: true}
	for _, p := range d.list(t) {
		if p.Enabled {
			for _, pid := range d.monitorPids(p.ID) {
				allowed[pid] = true
			}
		}
	}
	spareLog := d.execRoot + "/monitors/spare.log"
	var strays []string
	poll(func() bool {
		strays = strays[:0]
		spares := 0
		for _, p := range processes() {
			if allowed[p.pid] || p.pid == os.Getpid() {
				continue
			}
			if !strings.Contains(strings.Join(p.args, " "), d.dir+"/") && !under(p.cwd, d.dir) && !under(p.stderr, d.dir) {
				continue
			}
			if p.stderr == spareLog && spares == 0 {
				spares++
				continue
			}
			strays = append(strays, fmt.Sprintf("stray process %d: %q (cwd %s, stderr %s)", p.pid, p.args, p.cwd, p.stderr))
		}
		return len(strays) == 0
	}, waitTimeout)
	return strays
}
