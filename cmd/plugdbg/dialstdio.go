package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
)

// newDialStdioCmd is the remote end of an ssh:// host: ssh runs it on the
// daemon's machine, as the docker CLI runs `docker system dial-stdio`.
//
// It relays to this machine's daemon, the one --host, PLUGDBG_HOST or the
// default socket names (g.host), and never follows a context: the ssh
// client chose the machine, and a context there (PLUGDBG_CONTEXT, or
// `plugdbg context use` of the account ssh logs into) pointing elsewhere
// would make the connection hop on to another host unseen. --context is
// refused rather than ignored; the TLS flags do not apply either (the
// local daemon is a unix socket, or the host given with --host as is).
func newDialStdioCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "dial-stdio",
		Short:  "Join standard input and output to the daemon's API (the remote end of ssh:// hosts)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.context != "" {
				return errors.New("dial-stdio relays to this machine's daemon (--host, PLUGDBG_HOST or the default socket): --context does not apply")
			}
			err := client.New(g.host).Relay(cmd.Context(), os.Stdin, os.Stdout)
			if errors.Is(err, client.ErrNoDaemon) {
				return &codedError{err: err, code: client.DialStdioExitNoDaemon}
			}
			return err
		},
	}
}
