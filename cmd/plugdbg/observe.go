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
crash) counts from zero. Read them with GET /plugins/PLUGIN/calls.

dockerd's plugins are observed as docker:NAME. Their point lives in a small
helper process of the daemon's, one per plugin, which also outlives the
daemon and follows the plugin's socket when dockerd starts it again (a crash,
a dockerd restart, an enable); its counters go on across those runs, and
start from zero with a new helper (a reboot, a disable and enable, observe
--off and on). --observe-all is for plugdbg's own plugins only.`,
		Example: `  plugdbg observe myvol
  plugdbg observe --off myvol
  plugdbg observe docker:sshfs`,
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
