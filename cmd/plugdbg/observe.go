package main

import (
	"github.com/spf13/cobra"
)

func newObserveCmd(g *globalOptions) *cobra.Command {
	var off bool
	c := &cobra.Command{
		Use:   "observe [--off] PLUGIN",
		Short: "Count and time every call of a plugin while it runs",
		Long: `Observe the plugin: while it runs, a recording point on its socket counts
every call made on the socket's path, whoever makes it (dockerd, plugdbg
probe, curl), per method and status (the HTTP code, or err for a 200 answer
with a non-empty Err), and times it into a latency histogram. The point
lives in the plugin's monitor, so it goes on counting, and the plugin stays
reachable, while the daemon restarts or is killed. A running plugin is
observed (or no longer) at once, without a restart; an enable of an
observed plugin is ready only once the point is in place, so its first calls
count. The choice is kept with the plugin; --off withdraws it. The daemon's
--observe-all observes every plugin.

The counters are the plugin's run's: a new run (an enable, a restart after a
crash) counts from zero. Read them with GET /plugins/PLUGIN/calls.`,
		Example: `  plugdbg observe myvol
  plugdbg observe --off myvol`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			return cl.Observe(cmd.Context(), args[0], !off)
		},
	}
	c.Flags().BoolVar(&off, "off", false, "stop observing the plugin")
	return c
}
