package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/probe/conformance"
)

func newCheckCmd(g *globalOptions) *cobra.Command {
	var o conformance.RunOptions
	c := &cobra.Command{
		Use:   "check [PLUGIN]",
		Short: "Run a conformance suite against each interface a plugin implements",
		Long: `Drive each interface the plugin implements (from Plugin.Activate, or
--interface) through a real lifecycle, as dockerd would: volumes created,
listed, mounted twice, unmounted and removed; a network with an endpoint
joined and left; an IPAM pool with addresses; authorization requests and
answers. Error cases are checked too (Get of a missing volume must answer
Err). Every answer is validated against the method's schema. Whatever the
suite created is removed at the end.

Exit status 0 when no check failed: warnings (answers dockerd accepts but
that depart from what it expects) are printed and do not fail the run,
as a linter's do, unless --strict is given. Exit status 1 otherwise.`,
		Example: `  plugdbg check myvol
  plugdbg check --socket /run/docker/plugins/net.sock --json
  plugdbg check myvol --junit report.xml
  plugdbg check --strict myvol`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args
			o.Resolve = g.pluginTarget
			err := conformance.Run(cmd.Context(), o, cmd.OutOrStdout())
			return withUsage(cmd, checkExit(err, cmd.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringVar(&o.Socket, "socket", "", "unix socket of the plugin")
	f.StringVar(&o.URL, "url", "", "address of the plugin (unix:///path, tcp://host:port, https://host:port)")
	f.StringVar(&o.Spec, "spec", "", "legacy plugin spec file (.spec or .json)")
	f.StringSliceVar(&o.Interfaces, "interface", nil, "interfaces to check (VolumeDriver, NetworkDriver, IpamDriver, authz, ...) instead of asking Plugin.Activate")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.StringVar(&o.JUnit, "junit", "", "also write a JUnit XML report to this file")
	f.BoolVar(&o.Strict, "strict", false, "fail (exit 1) on warnings too")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "timeout of each call (0: none)")
	return c
}
