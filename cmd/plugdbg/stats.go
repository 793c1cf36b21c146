package main

import (
	"fmt"
	"io"
	"os"
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
its limit, and the number of processes. It refreshes every second until
interrupted; --no-stream prints one sample.`,
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
	fmt.Fprintln(w, "ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
	memPct := 0.0
	if r.MemoryLimit > 0 {
		memPct = float64(r.MemoryUsage) / float64(r.MemoryLimit) * 100
	}
	fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", shortID(r.ID), r.Name, r.CPUPercent,
		units.BytesSize(float64(r.MemoryUsage)), units.BytesSize(float64(r.MemoryLimit)), memPct, r.PidsCurrent)
	return w.Flush()
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
