package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
)

func newUpgradeCmd(g *globalOptions) *cobra.Command {
	o := client.UpgradeOptions{}
	c := &cobra.Command{
		Use:   "upgrade [OPTIONS] PLUGIN [REMOTE]",
		Short: "Upgrade a disabled plugin to another image, keeping its settings",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if len(args) == 2 {
				o.Remote = args[1]
			}
			prompt := &client.Prompt{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), TTY: stdinTTY(cmd)}
			o.Confirm, o.Accept = prompt.Confirm, prompt.AcceptPrivileges
			o.Progress = &client.Display{Out: cmd.OutOrStdout(), TTY: stdoutTTY(cmd)}
			cl, err := g.client()
			if err != nil {
				return err
			}
			remote, err := cl.Upgrade(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Upgraded plugin %s to %s\n", o.Name, remote)
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&o.GrantAll, "grant-all-permissions", false, "grant all permissions necessary to run the plugin")
	f.BoolVar(&o.SkipRemoteCheck, "skip-remote-check", false, "do not check that the remote matches the plugin's current image")
	return c
}
