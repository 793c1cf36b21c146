package main

import (
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/uirelay"
)

func newUICmd(g *globalOptions) *cobra.Command {
	o := uirelay.Options{}
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the daemon's web UI on a local address",
		Long: `Serve the web UI of the daemon at -H on a local loopback address, relayed over
the same connection the other commands use (unix socket, tcp with TLS, ssh),
and print its URL. The URL carries an access token of this run; the page keeps
it, and the address accepts no other origin. Runs until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			o.Transport, o.Daemon, o.Log = c.Transport(), c.Host, cmd.ErrOrStderr()
			return uirelay.Run(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.Addr, "addr", uirelay.DefaultAddr, "loopback address to serve the UI on (host:port; port 0: any free one)")
	return cmd
}
