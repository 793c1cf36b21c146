package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
)

func newLoginCmd(g *globalOptions) *cobra.Command {
	o := client.LoginOptions{}
	var passwordStdin bool
	c := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry (the daemon checks the credentials; they go where docker login puts them)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Server = args[0]
			}
			if passwordStdin {
				if o.Password != "" {
					return errors.New("--password and --password-stdin are mutually exclusive")
				}
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				o.Password = strings.TrimRight(string(b), "\r\n")
			}
			if o.Username == "" || o.Password == "" {
				return errors.New("a username (-u) and a password (-p or --password-stdin) are required")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if _, err = cl.Login(cmd.Context(), o); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Username, "username", "u", "", "username")
	f.StringVarP(&o.Password, "password", "p", "", "password")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	// The daemon checks the login now, with its own --insecure-registry;
	// the flag stays accepted so that scripts using it keep working.
	var insecure []string
	f.StringArrayVar(&insecure, "insecure-registry", nil, "registry (host[:port]) reachable over plain HTTP")
	_ = f.MarkDeprecated("insecure-registry", "the daemon checks logins now: give plugdbgd --insecure-registry")
	return c
}
