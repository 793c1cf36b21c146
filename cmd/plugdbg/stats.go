package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
)

func newStatsCmd(g *globalOptions) *cobra.Command {
	noStream := false
	c := &cobra.Command{
		Use:   "stats [--no-stream] PLUGIN",
		Short: "Show a running plugin's CPU, memory and process count, live",
		Long: `Show a running plugin's resource use from its cgroup, as docker stats does:
CPU % (100 % is one CPU busy), memory in use (less inactive file cache) and
its limit, and the number of processes. For an observed plugin (plugdbg
observe) it also shows the calls per second made to its socket and their
99th percentile latency, every method together (-- when not observed, or
no call). It refreshes every second until interrupted; --no-stream prints
one sample, over half a second.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			clear := !noStream && isTerminal(out)
			cl, err := g.client()
			if err != nil {
				return err
			}
			err = cl.Stats(cmd.Context(), args[0], !noStream, func(r types.StatsReport) error {
				if clear {
					fmt.Fprint(out, "\033[2J\033[H")
				}
				return printStats(out, r)
			})
			if cmd.Context().Err() != nil {
				return nil // interrupted: the normal end of a stream
			}
			return err
		},
	}
	c.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	return c
}

func printStats(out io.Writer, r types.StatsReport) error {
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS\tCALLS/S\tP99")
	memPct := 0.0
	if r.MemoryLimit > 0 {
		memPct = float64(r.MemoryUsage) / float64(r.MemoryLimit) * 100
	}
	rate, p99 := callColumns(r.Calls)
	fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\t%s\t%s\n", shortID(r.ID), r.Name, r.CPUPercent,
		units.BytesSize(float64(r.MemoryUsage)), units.BytesSize(float64(r.MemoryLimit)), memPct, r.PidsCurrent, rate, p99)
	return w.Flush()
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
