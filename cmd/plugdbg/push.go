package main

import (
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
)

func newPushCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "push PLUGIN[:TAG]",
		Short: "Push a plugin to the registry its name points to (localhost:5000/name:tag)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			_, err = cl.Push(cmd.Context(), client.PushOptions{
				Name:     args[0],
				Progress: &client.Display{Out: cmd.OutOrStdout(), TTY: stdoutTTY(cmd)},
			})
			return err
		},
	}
}
