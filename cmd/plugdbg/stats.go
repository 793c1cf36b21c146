package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/cli/format"
	"github.com/plugdbg/plugdbg/client"
)

type statsOptions struct {
	noStream bool
	format   string
}

func newStatsCmd(g *globalOptions) *cobra.Command {
	var o statsOptions
	c := &cobra.Command{
		Use:   "stats [--no-stream] [--format FORMAT] [PLUGIN...]",
		Short: "Show running plugins' CPU, memory and process count, live",
		Long: `Show running plugins' resource use from their cgroups, as docker stats does:
CPU % (100 % is one CPU busy), memory in use (less inactive file cache) and
its limit, and the number of processes. For an observed plugin (plugdbg
observe) it also shows the calls per second made to its socket and their
99th percentile latency, every method together (-- when not observed, or
no call). With no plugin given, every enabled plugin, and those enabled
meanwhile. It refreshes every second until interrupted; --no-stream prints
one sample, over half a second.

--format takes docker's forms: "table" (the default), "table TEMPLATE",
"json", or a Go template over .ID .Name .CPUPerc .MemUsage .MemPerc .PIDs
.Calls .P99, or the sample's JSON fields (.MemoryUsage, .CPUPercent, …).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, err := format.Parse(format.Default(o.format, defaultStatsFormat))
			if err != nil {
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			clear := !o.noStream && isTerminal(out)
			draw := func(reports []types.StatsReport) error {
				if clear {
					fmt.Fprint(out, "\033[2J\033[H")
				}
				return printStats(out, tmpl, reports)
			}
			all := len(args) == 0
			if all {
				yes := true
				plugins, err := cl.List(cmd.Context(), client.ListOptions{Enabled: &yes})
				if err != nil {
					return err
				}
				for _, p := range plugins {
					args = append(args, p.ID)
				}
			}
			if o.noStream {
				reports, err := statsOnce(cmd.Context(), cl, args, all)
				if err != nil {
					return err
				}
				return draw(reports)
			}
			err = streamStats(cmd.Context(), cl, args, all, draw)
			if cmd.Context().Err() != nil {
				return nil // interrupted: the normal end of a stream
			}
			return err
		},
	}
	c.Flags().BoolVar(&o.noStream, "no-stream", false, "print one sample and exit")
	c.Flags().StringVar(&o.format, "format", "", formatListUsage)
	return c
}

// defaultStatsFormat is plugdbg stats's table: docker stats's columns that
// a plugin has, and the calls an observed one answers.
const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}\t{{.Calls}}\t{{.P99}}"

var statsHeader = format.Header{"ID": "ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "PIDs": "PIDS", "Calls": "CALLS/S", "P99": "P99"}

// statsRow is what stats templates see, docker stats's names in the order
// of their names (as docker's --format json writes them); its template
// falls back to the sample's own JSON fields.
type statsRow struct {
	CPUPerc  string
	Calls    string
	ID       string
	MemPerc  string
	MemUsage string
	Name     string
	P99      string
	PIDs     string
	r        types.StatsReport
}

func (s statsRow) FormatFallback() any { return s.r }

func newStatsRow(r types.StatsReport) statsRow {
	memPct := 0.0
	if r.MemoryLimit > 0 {
		memPct = float64(r.MemoryUsage) / float64(r.MemoryLimit) * 100
	}
	rate, p99 := callColumns(r.Calls)
	return statsRow{
		ID: shortID(r.ID), Name: r.Name, CPUPerc: fmt.Sprintf("%.2f%%", r.CPUPercent),
		MemUsage: units.BytesSize(float64(r.MemoryUsage)) + " / " + units.BytesSize(float64(r.MemoryLimit)),
		MemPerc:  fmt.Sprintf("%.2f%%", memPct), PIDs: strconv.FormatUint(r.PidsCurrent, 10), Calls: rate, P99: p99, r: r,
	}
}

func printStats(out io.Writer, tmpl *format.Template, reports []types.StatsReport) error {
	t := tmpl.NewTable(out, statsHeader)
	for _, r := range reports {
		if err := tmpl.Execute(t, newStatsRow(r)); err != nil {
			return err
		}
	}
	return t.Flush()
}

// pluginGone reports whether err says that the plugin stopped or went
// away: stats for every plugin then leave it out, as docker stats leaves
// out a container that stopped.
func pluginGone(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && (ce.Status == http.StatusConflict || ce.Status == http.StatusNotFound)
}

// statsOnce samples each plugin of refs at once (each sample takes half a
// second), in the order of refs; with all, a plugin stopped meanwhile is
// left out rather than an error.
func statsOnce(ctx context.Context, cl *client.Client, refs []string, all bool) ([]types.StatsReport, error) {
	reports := make([]*types.StatsReport, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cl.Stats(ctx, ref, false, func(r types.StatsReport) error {
				reports[i] = &r
				return nil
			})
		}()
	}
	wg.Wait()
	var out []types.StatsReport
	for i, r := range reports {
		if errs[i] != nil && !(all && pluginGone(errs[i])) {
			return nil, errs[i]
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// statsRedraw is how often the table of several plugins is drawn again,
// as their streams each send a sample about every second.
const statsRedraw = time.Second

// streamStats draws the latest samples of refs' streams, once each has
// sent its first, then every statsRedraw, until ctx ends. With all, a
// plugin that stops leaves the table and one enabled meanwhile joins it
// (from the daemon's events), and it goes on with none; otherwise it ends
// with the first stream's error.
func streamStats(ctx context.Context, cl *client.Client, refs []string, all bool, draw func([]types.StatsReport) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type update struct {
		id  string
		gen int // which stream of the plugin's it is: one may end after the next began
		r   *types.StatsReport
		err error // the stream ended
	}
	updates := make(chan update)
	send := func(u update) error {
		select {
		case updates <- u:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var order []string         // the table's rows, as first seen
	gen := map[string]int{}    // the plugin's current stream
	ended := map[string]bool{} // its stream ended: the plugin stopped
	follow := func(id string) {
		if _, ok := gen[id]; ok && !ended[id] {
			return
		}
		delete(ended, id)
		gen[id]++
		if !slices.Contains(order, id) {
			order = append(order, id)
		}
		g := gen[id]
		go func() {
			err := cl.Stats(ctx, id, true, func(r types.StatsReport) error { return send(update{id: id, gen: g, r: &r}) })
			if err == nil {
				err = fmt.Errorf("stats of %s: the stream ended", id)
			}
			_ = send(update{id: id, gen: g, err: err})
		}()
	}
	for _, ref := range refs {
		follow(ref)
	}
	enabled := make(chan string)
	if all {
		go func() {
			_ = cl.WatchEvents(ctx, client.EventsOptions{Filters: map[string][]string{"type": {"plugin"}, "event": {"enable"}}},
				func(ev events.Message) error {
					select {
					case enabled <- ev.Actor.ID:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
		}()
	}
	latest := map[string]types.StatsReport{}
	fresh := map[string]bool{} // sent a sample since the last draw
	dirty := false
	redraw := func() error {
		var reports []types.StatsReport
		for _, id := range order {
			if r, ok := latest[id]; ok && !ended[id] {
				reports = append(reports, r)
			}
		}
		clear(fresh)
		dirty = false
		return draw(reports)
	}
	// Draw when every running plugin has sent a new sample, or at the
	// latest every statsRedraw when some did.
	roundDone := func() bool { return len(fresh) >= len(order)-len(ended) }
	if len(refs) == 0 {
		if err := redraw(); err != nil {
			return err
		}
	}
	tick := time.NewTicker(statsRedraw)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-enabled:
			follow(id)
		case u := <-updates:
			if u.gen != gen[u.id] {
				continue // an earlier stream of a plugin enabled again
			}
			if u.err != nil {
				if !all || !pluginGone(u.err) {
					return u.err
				}
				ended[u.id] = true
				delete(latest, u.id)
				delete(fresh, u.id)
				dirty = true
			} else {
				latest[u.id] = *u.r
				fresh[u.id] = true
				dirty = true
			}
			if roundDone() {
				if err := redraw(); err != nil {
					return err
				}
			}
		case <-tick.C:
			if dirty && len(latest) > 0 {
				if err := redraw(); err != nil {
					return err
				}
			}
		}
	}
}

// callColumns are the CALLS/S and P99 columns: "--" where there is nothing
// to show, as docker stats shows what it cannot read (a plugin that is not
// observed, or no call in the interval for the latency).
func callColumns(c *types.CallRates) (rate, p99 string) {
	if c == nil {
		return "--", "--"
	}
	rate = strconv.FormatFloat(c.PerSecond, 'f', 1, 64)
	if c.Calls == 0 {
		return rate, "--"
	}
	return rate, formatLatency(c.P99)
}

// formatLatency prints seconds as milliseconds below a second, with three
// significant digits or so: 0.0823ms, 4.2ms, 250ms, 1.50s.
func formatLatency(s float64) string {
	switch ms := s * 1000; {
	case s >= 1:
		return strconv.FormatFloat(s, 'f', 2, 64) + "s"
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms >= 1:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(ms, 'f', 3, 64) + "ms"
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
