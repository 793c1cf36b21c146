package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/probe"
)

func newProbeCmd(g *globalOptions) *cobra.Command {
	var o probe.Options
	c := &cobra.Command{
		Use:   "probe [PLUGIN] METHOD [BODY] [KEY=VALUE...]",
		Short: "Call one method of a plugin's socket as dockerd does, and check the answer",
		Long: `Call one method of a plugin's socket as dockerd does (POST /METHOD with
Docker's plugin media type) and print the answer as indented JSON.

PLUGIN is a plugdbg plugin (name or ID, or docker:NAME); --socket, --url or
--spec name any other plugin instead, and then PLUGIN is left out. A PLUGIN
of a remote daemon (-H tcp:// or ssh://) is called through the daemon, which
joins each connection to the plugin's socket. BODY is JSON, @FILE, or -
for standard input; without it the body is what dockerd sends ({} or none).
KEY=VALUE arguments set request fields by dotted path (Opts.size=1G), typed
from the method's schema; KEY:=JSON sets raw JSON.

Exit status: 0 success, 1 usage, 2 transport error, 3 HTTP error, 4 a
non-empty Err (Error for IPAM), 5 schema problems under --strict.`,
		Example: `  plugdbg probe myvol VolumeDriver.List
  plugdbg probe myvol VolumeDriver.Create Name=v1 Opts.size=1G
  plugdbg probe --socket /run/docker/plugins/x.sock VolumeDriver.Get '{"Name":"v1"}'
  plugdbg probe myvol --list
  plugdbg probe --describe VolumeDriver.Mount`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args
			o.Stdin = cmd.InOrStdin()
			o.Resolve = g.pluginTarget
			return withUsage(cmd, withProbeExitCode(probe.Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())))
		},
	}
	f := c.Flags()
	f.StringVar(&o.Socket, "socket", "", "unix socket of the plugin")
	f.StringVar(&o.URL, "url", "", "address of the plugin (unix:///path, tcp://host:port, https://host:port)")
	f.StringVar(&o.Spec, "spec", "", "legacy plugin spec file (.spec or .json)")
	f.BoolVar(&o.List, "list", false, "list what the plugin implements (Plugin.Activate) and its methods; without a plugin, every method")
	f.StringVar(&o.Describe, "describe", "", "show a method's request and response shapes with examples")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show the request and answer heads and the timing on stderr")
	f.BoolVar(&o.Raw, "raw", false, "print the answer as received")
	f.BoolVar(&o.Strict, "strict", false, "treat schema problems in the answer as errors")
	f.IntVar(&o.Repeat, "repeat", 0, "call N times and print throughput and latency percentiles")
	f.IntVar(&o.Concurrency, "concurrency", 1, "with --repeat: calls in flight")
	f.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "timeout of each call (0: none)")
	return c
}

// pluginTarget resolves a plugdbg plugin to where probe and check call it:
// its socket, dialled directly when it is on this machine, else through a
// tunnel the daemon opens to it for each connection. The daemon is needed
// only for a plugin given by name.
func (g *globalOptions) pluginTarget(ctx context.Context, ref string) (probe.Target, error) {
	cl, err := g.client()
	if err != nil {
		return probe.Target{}, err
	}
	ep, err := cl.PluginEndpoint(ctx, ref)
	if err != nil {
		return probe.Target{}, err
	}
	return probe.Target{Network: "unix", Addr: ep.Socket, Dial: ep.Dial, Via: ep.Via}, nil
}
