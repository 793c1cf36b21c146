package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newTopCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "top PLUGIN",
		Short: "List the processes in a running plugin's container",
		Long: `List the processes in a running plugin's container, with their host PID,
user (named from the plugin's /etc/passwd where it has one), CPU time and
command line.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			top, err := cl.Top(cmd.Context(), args[0])
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
}
