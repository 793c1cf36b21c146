package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
)

func newTraceCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "trace PLUGIN",
		Short: "Show every call made to a plugin's socket, live, through a recording proxy",
		Long: `Put a recording proxy on the plugin's socket: clients that dial the usual path
go through it, unchanged, and each call is printed as it completes (time,
connection, method, status, latency, request, answer, Err) and published as a
"call" event. Once the proxy is in place, "tracing SOCKET (Ctrl-C to stop)"
goes to stderr: every call made from then on is recorded. When the plugin
restarts, the proxy follows its new socket and the line comes again.
Interrupting the trace puts the plugin's own socket back, with no plugin
restart; connections opened through the proxy keep working until their
clients close them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			started := func(sock string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "tracing %s (Ctrl-C to stop)\n", sock)
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			return cl.Trace(cmd.Context(), args[0], started, func(r types.TraceRecord) error {
				if asJSON {
					return enc.Encode(r)
				}
				_, err := fmt.Fprintln(out, r)
				return err
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per call")
	return c
}
