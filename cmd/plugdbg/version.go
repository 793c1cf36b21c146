package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/version"
)

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the client's and the daemon's versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Client:\n Version:\t%s\n API version:\t%s\n", version.Version, version.APIVersion)
			cl, err := g.client()
			if err != nil {
				return err
			}
			v, err := cl.Version(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Server:\n Version:\t%s\n API version:\t%s (minimum %s)\n Go version:\t%s\n Kernel:\t%s\n",
				v.Version, v.APIVersion, v.MinAPIVersion, v.GoVersion, v.KernelVersion)
			return nil
		},
	}
}
