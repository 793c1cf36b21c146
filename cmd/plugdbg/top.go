package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newTopCmd(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "top PLUGIN [ps OPTIONS]",
		Short: "List the processes in a running plugin's container",
		Long: `List the processes in a running plugin's container, with their host PID,
user (named from the plugin's /etc/passwd where it has one, else its
number), CPU time and command line.

With ps options, as docker top: the daemon runs ps with them on its host
and keeps the plugin's processes (a PID column is needed); user columns
show the plugin's names too. For example: plugdbg top vol -o pid,user,comm`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			top, err := cl.Top(cmd.Context(), args[0], args[1:]...)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(top.Titles, "\t"))
			for _, p := range top.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	// Everything after PLUGIN is ps's, -o and all.
	c.Flags().SetInterspersed(false)
	return c
}
