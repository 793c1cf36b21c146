package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
)

// newDialStdioCmd is the remote end of an ssh:// host: ssh runs it on the
// daemon's machine, as the docker CLI runs `docker system dial-stdio`.
func newDialStdioCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "dial-stdio",
		Short:  "Join standard input and output to the daemon's API (the remote end of ssh:// hosts)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := client.New(g.host).Relay(cmd.Context(), os.Stdin, os.Stdout)
			if errors.Is(err, client.ErrNoDaemon) {
				return &codedError{err: err, code: client.DialStdioExitNoDaemon}
			}
			return err
		},
	}
}
