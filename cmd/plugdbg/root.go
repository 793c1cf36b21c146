// plugdbg's command line: each file parses one verb's flags and calls one
// package function.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/contexts"
)

// globalOptions are the flags every command shares: which daemon to talk
// to, and how.
type globalOptions struct {
	// host is -H, or else PLUGDBG_HOST, or else the default socket: the
	// default context's daemon. dial-stdio uses it as it is.
	host      string
	context   string
	tls       bool
	tlsVerify bool
	tlsCACert string
	tlsCert   string
	tlsKey    string
	flags     interface{ Changed(string) bool } // which of the flags above the user gave
	getenv    func(string) string
	resolved  bool // cl and clErr are set
	cl        *client.Client
	clErr     error
	// stopSignals ends the handling of SIGINT and SIGTERM that the
	// command's context was given, if it was.
	stopSignals func()
}

// contextFlags returns the flags that choose the daemon, as given.
func (g *globalOptions) contextFlags() contexts.Flags {
	f := contexts.Flags{Context: g.context}
	given := func(name string) bool { return g.flags != nil && g.flags.Changed(name) }
	if given("host") {
		f.Host = g.host
	}
	if given("tls") {
		f.TLS = &g.tls
	}
	if given("tlsverify") {
		f.TLSVerify = &g.tlsVerify
	}
	if given("tlscacert") {
		f.TLSCACert = g.tlsCACert
	}
	if given("tlscert") {
		f.TLSCert = g.tlsCert
	}
	if given("tlskey") {
		f.TLSKey = g.tlsKey
	}
	return f
}

// client returns the client of the daemon the flags and environment
// choose (docker's precedence: --context, -H, PLUGDBG_HOST,
// PLUGDBG_CONTEXT, plugdbg context use, the default socket), made once.
// Every command that talks to the daemon gets its client here, except
// dial-stdio (see there).
func (g *globalOptions) client() (*client.Client, error) {
	if !g.resolved {
		g.cl, g.clErr = g.newClient()
		g.resolved = true
	}
	return g.cl, g.clErr
}

func (g *globalOptions) newClient() (*client.Client, error) {
	r, err := contexts.Resolve(g.contextFlags(), g.getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := r.Endpoint.TLSConfig()
	if err != nil {
		return nil, err
	}
	cl, err := client.NewWithOptions(client.Options{Host: r.Endpoint.Host, TLS: cfg})
	if err != nil && r.Name != contexts.DefaultName {
		return nil, fmt.Errorf("context %q: %w", r.Name, err)
	}
	return cl, err
}

// ExitCoder is an error that carries the process exit status.
type ExitCoder interface {
	error
	ExitCode() int
}

// Execute runs the CLI and returns the process exit status.
func Execute(ctx context.Context) int {
	root, opts := newRoot()
	defer func() {
		if opts.stopSignals != nil {
			opts.stopSignals()
		}
	}()
	return run(ctx, root, os.Stderr)
}

// oneShotKey marks, in a command's Annotations, a command that makes
// bounded requests and has nothing to undo when it is interrupted (no
// terminal mode, child process, local file or stream to end cleanly). It
// keeps the default action of SIGINT and SIGTERM, which end the process at
// once, as they would end it after a cancelled request. The other commands
// turn the signals into the end of their context. os/signal costs a
// process three threads of its own (its receiving goroutine blocks one, it
// locks another, and a template thread goes with that): as many as the
// rest of a one-shot command's process, started before it can send its
// request.
const oneShotKey = "plugdbg.one-shot"

func oneShot(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[oneShotKey] = "true"
	return c
}

// run executes root and returns the exit status, with the error's message
// on stderr.
func run(ctx context.Context, root *cobra.Command, stderr io.Writer) int {
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// An error without a message carries only an exit status (exec's).
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "Error:", msg)
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root, _ := newRoot()
	return root
}

func newRoot() (*cobra.Command, *globalOptions) {
	opts := &globalOptions{getenv: os.Getenv}
	root := &cobra.Command{
		Use:           "plugdbg",
		Short:         "Run and debug Docker-style managed plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
		// As docker, for every command, whether it talks to a daemon or not.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if opts.flags.Changed("host") && opts.context != "" {
				return contexts.ErrConflict
			}
			if cmd.Annotations[oneShotKey] == "" && opts.stopSignals == nil {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				cmd.SetContext(ctx)
				opts.stopSignals = stop
			}
			return nil
		},
	}
	f := root.PersistentFlags()
	opts.flags = f
	f.StringVarP(&opts.host, "host", "H", contexts.LocalHost(contexts.Flags{}, opts.getenv),
		"daemon to connect to: unix:///path, tcp://host:port or ssh://[user@]host[:port][/path] (env PLUGDBG_HOST)")
	f.StringVarP(&opts.context, "context", "c", "",
		`context to use (env PLUGDBG_CONTEXT; overrides PLUGDBG_HOST and "plugdbg context use")`)
	f.BoolVar(&opts.tls, "tls", false, "use TLS to a tcp:// host; implied by --tlsverify (env PLUGDBG_TLS)")
	f.BoolVar(&opts.tlsVerify, "tlsverify", false, "use TLS to a tcp:// host and verify the daemon's certificate (env PLUGDBG_TLS_VERIFY)")
	f.StringVar(&opts.tlsCACert, "tlscacert", "", "trust daemon certificates signed only by this CA (default $PLUGDBG_CERT_PATH/ca.pem, else in the config directory)")
	f.StringVar(&opts.tlsCert, "tlscert", "", "client certificate (default $PLUGDBG_CERT_PATH/cert.pem, else in the config directory)")
	f.StringVar(&opts.tlsKey, "tlskey", "", "client key (default $PLUGDBG_CERT_PATH/key.pem, else in the config directory)")
	root.AddCommand(
		newDaemonCmd(),
		oneShot(newCreateCmd(opts)),
		oneShot(newListCmd(opts)),
		oneShot(newInspectCmd(opts)),
		oneShot(newEnableCmd(opts)),
		oneShot(newDisableCmd(opts)),
		oneShot(newSetCmd(opts)),
		oneShot(newRemoveCmd(opts)),
		oneShot(newVersionCmd(opts)),
		newLogsCmd(opts),
		newEventsCmd(opts),
		newInstallCmd(opts),
		newPushCmd(opts),
		newUpgradeCmd(opts),
		newLoginCmd(opts),
		newExecCmd(opts),
		newTopCmd(opts),
		newStatsCmd(opts),
		newProbeCmd(opts),
		newCheckCmd(opts),
		newTraceCmd(opts),
		newUsageCmd(opts),
		newPublishCmd(opts),
		newObserveCmd(opts),
		newBundleCmd(opts),
		newDialStdioCmd(opts),
		newContextCmd(opts),
		newUICmd(opts),
	)
	addCompletions(root, opts)
	return root, opts
}
