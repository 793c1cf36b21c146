package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/cli/format"
	"github.com/plugdbg/plugdbg/contexts"
)

func newContextCmd(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "context",
		Short: "Manage contexts: named daemons to talk to",
		Long: `A context names a daemon and how to reach it (its host, and TLS files for a
tcp:// host), as docker's contexts do. They are stored in the config directory
($PLUGDBG_CONFIG, else ~/.config/plugdbg on Linux).

A command talks to the daemon of: --context; else -H or PLUGDBG_HOST (the
"default" context, with the TLS flags); else PLUGDBG_CONTEXT; else the context
"plugdbg context use" chose; else the default socket.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(
		newContextCreateCmd(g),
		newContextListCmd(g),
		newContextUseCmd(g),
		newContextRemoveCmd(g),
		newContextInspectCmd(g),
		newContextShowCmd(g),
	)
	return c
}

// store returns the context store of the config directory.
func (g *globalOptions) store() (*contexts.Store, error) {
	return contexts.Open(g.getenv)
}

func newContextCreateCmd(g *globalOptions) *cobra.Command {
	var (
		f           contexts.CreateFlags
		description string
		from        string
	)
	c := &cobra.Command{
		Use:   "create NAME (--host URL [--tls] [--tlsverify] [--tlscacert F --tlscert F --tlskey F] | --from CONTEXT) [--description D]",
		Short: "Create a context",
		Long: `Create a context: a name for --host URL, with TLS files for a tcp:// host, which
are copied into the store. --from copies another context (default: the flags
and PLUGDBG_ variables) instead; without --host or --from, the current one.
--tls uses TLS without checking the daemon's certificate; --tlsverify (which a
TLS file given alone implies) checks it against --tlscacert.`,
		Example: `  plugdbg context create prod --host ssh://ops@prod.example --description "production"
  plugdbg context create lab --host tcp://lab.example:2376 --tlsverify \
      --tlscacert ca.pem --tlscert cert.pem --tlskey key.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			name := args[0]
			if err := contexts.ValidateName(name); err != nil {
				return err
			}
			var endpointFlags []string
			for _, n := range []string{"host", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey"} {
				if cmd.Flags().Changed(n) {
					endpointFlags = append(endpointFlags, "--"+n)
				}
			}
			if from != "" && len(endpointFlags) > 0 {
				return fmt.Errorf("--from copies context %q: %s cannot go with it", from, strings.Join(endpointFlags, ", "))
			}
			if from == "" && len(endpointFlags) == 0 {
				// docker's: a copy of the current context.
				choice, err := s.CurrentChoice(g.contextFlags(), g.getenv)
				if err != nil {
					return err
				}
				from = choice.Name
			}
			if err := createContext(s, name, description, from, f, g); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), name)
			fmt.Fprintf(cmd.ErrOrStderr(), "Successfully created context %q\n", name)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.Host, "host", "", "the daemon: unix:///path, tcp://host:port or ssh://[user@]host[:port][/path]")
	fl.BoolVar(&f.TLS, "tls", false, "use TLS (tcp:// hosts), without checking the daemon's certificate unless --tlsverify")
	fl.BoolVar(&f.TLSVerify, "tlsverify", false, "use TLS and check the daemon's certificate against --tlscacert")
	fl.StringVar(&f.TLSCACert, "tlscacert", "", "CA that signed the daemon's certificate (copied into the store)")
	fl.StringVar(&f.TLSCert, "tlscert", "", "client certificate (copied into the store)")
	fl.StringVar(&f.TLSKey, "tlskey", "", "client key (copied into the store)")
	fl.StringVar(&description, "description", "", "description of the context")
	fl.StringVar(&from, "from", "", "copy this context (\"default\": the global flags and PLUGDBG_ variables)")
	return c
}

// createContext stores context name: a copy of context from, or else
// the endpoint f describes.
func createContext(s *contexts.Store, name, description, from string, f contexts.CreateFlags, g *globalOptions) error {
	var (
		e   contexts.Endpoint
		err error
	)
	switch from {
	case "":
		e, err = f.Endpoint()
	case contexts.DefaultName:
		e, err = contexts.DefaultEndpoint(g.contextFlags(), g.getenv)
	default:
		return s.Copy(from, name, description)
	}
	if err != nil {
		return err
	}
	return s.Create(name, description, e)
}

// warnHostOverrides says, as docker does for DOCKER_HOST, that
// PLUGDBG_HOST wins over the context `plugdbg context use` chose.
func warnHostOverrides(g *globalOptions, w io.Writer, name string) {
	if g.getenv(contexts.EnvHost) == "" {
		return
	}
	what := "a context"
	if name != "" {
		what = fmt.Sprintf("%q", name)
	}
	fmt.Fprintf(w, "Warning: %[1]s environment variable overrides the active context. To use %[2]s, either set the global --context flag, or unset %[1]s environment variable.\n",
		contexts.EnvHost, what)
}

type contextListOptions struct {
	format string
	quiet  bool
}

func newContextListCmd(g *globalOptions) *cobra.Command {
	var o contextListOptions
	c := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List contexts (* marks the current one)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			rows, err := s.ListAll(g.contextFlags(), g.getenv)
			if err != nil {
				return err
			}
			if err := printContexts(cmd.OutOrStdout(), rows, o); err != nil {
				return err
			}
			warnHostOverrides(g, cmd.ErrOrStderr(), "")
			return nil
		},
	}
	c.Flags().StringVar(&o.format, "format", "", formatListUsage+" (fields: .Name .Description .Host .Current .Error)")
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only show context names")
	return c
}

func printContexts(out io.Writer, rows []contexts.Listed, o contextListOptions) error {
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(out, r.Name)
		}
		return nil
	}
	def := "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.Host}}"
	for _, r := range rows {
		if r.Error != "" {
			def += "\t{{.Error}}" // docker's column, when there is something in it
			break
		}
	}
	// Current is left out, as docker's header leaves it out, so that the
	// default's mark does not show in the header.
	header := format.Header{"Name": "NAME", "Description": "DESCRIPTION", "Host": "HOST", "Error": "ERROR"}
	return format.Rows(out, o.format, def, header, rows)
}

func newContextUseCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: `Make a context the current one ("default": the flags and PLUGDBG_HOST again)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			name := args[0]
			if err := s.SetCurrent(name); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), name)
			fmt.Fprintf(cmd.ErrOrStderr(), "Current context is now %q\n", name)
			if name != contexts.DefaultName {
				warnHostOverrides(g, cmd.ErrOrStderr(), name)
			}
			return nil
		},
	}
}

func newContextRemoveCmd(g *globalOptions) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm NAME [NAME...]",
		Aliases: []string{"remove"},
		Short:   "Remove contexts",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			choice, err := s.CurrentChoice(g.contextFlags(), g.getenv)
			if err != nil {
				return err
			}
			// config.json's context is in use too when PLUGDBG_HOST or
			// -H hides it: removing it would leave config.json naming a
			// context that is gone.
			used, err := s.Current()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if err := removeContext(s, name, force, name == choice.Name || name == used, name == used); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove the current context too (config.json then names none), and ignore contexts that do not exist")
	return c
}

func removeContext(s *contexts.Store, name string, force, inUse, inConfig bool) error {
	if name == contexts.DefaultName {
		return errors.New(`context "default" cannot be removed`)
	}
	if inUse && !force {
		return fmt.Errorf("context %q is in use, set -f flag to force remove", name)
	}
	if inConfig {
		if err := s.SetCurrent(contexts.DefaultName); err != nil {
			return err
		}
	}
	err := s.Remove(name)
	if force && errors.Is(err, contexts.ErrNotFound) {
		return nil
	}
	return err
}

func newContextInspectCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "inspect [NAME...]",
		Short: "Show contexts in detail (the current one without NAME); TLS files by name, never their contents",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				choice, err := s.CurrentChoice(g.contextFlags(), g.getenv)
				if err != nil {
					return err
				}
				args = []string{choice.Name}
			}
			var (
				all  []json.RawMessage
				errs []error
			)
			for _, name := range args {
				o, err := s.Inspect(name, g.contextFlags(), g.getenv)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				all = append(all, o)
			}
			if err := printInspected(cmd.OutOrStdout(), all, tmpl); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", formatInspectUsage)
	return c
}

// printInspected writes objects as docker's inspect does (format.Inspect).
func printInspected(out io.Writer, objects []json.RawMessage, tmpl string) error {
	all := make([]any, len(objects))
	for i, o := range objects {
		all[i] = o
	}
	return format.Inspect(out, tmpl, all)
}

func newContextShowCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the name of the current context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			choice, err := s.CurrentChoice(g.contextFlags(), g.getenv)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), choice.Name)
			return nil
		},
	}
}
