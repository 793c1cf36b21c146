package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plugdbg/plugdbg/client"
)

// stdinTTY reports whether stdin is a terminal, so that a prompt has
// someone to ask.
func stdinTTY(cmd *cobra.Command) bool {
	f, ok := cmd.InOrStdin().(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stdoutTTY reports whether the command's output is a terminal, for
// progress bars.
func stdoutTTY(cmd *cobra.Command) bool {
	f, ok := cmd.OutOrStdout().(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newInstallCmd(g *globalOptions) *cobra.Command {
	o := client.InstallOptions{}
	c := &cobra.Command{
		Use:   "install [OPTIONS] PLUGIN [KEY=VALUE...]",
		Short: "Install a plugin from a registry: pull, grant its privileges, set, enable",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Remote, o.Args = args[0], args[1:]
			prompt := &client.Prompt{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), TTY: stdinTTY(cmd)}
			o.Accept = prompt.AcceptPrivileges
			o.Progress = &client.Display{Out: cmd.OutOrStdout(), TTY: stdoutTTY(cmd)}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if _, err = cl.Install(cmd.Context(), o); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Installed plugin", o.Remote)
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&o.GrantAll, "grant-all-permissions", false, "grant all permissions necessary to run the plugin")
	f.StringVar(&o.Alias, "alias", "", "local name for the plugin")
	f.BoolVar(&o.Disable, "disable", false, "do not enable the plugin on install")
	return c
}
