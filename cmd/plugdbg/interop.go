package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/bundle"
)

// dockerRef is ref as a target of dockerd's plugins when docker is set.
func dockerRef(ref string, docker bool) string {
	if docker {
		return types.DockerPrefix + ref
	}
	return ref
}

func newUsageCmd(g *globalOptions) *cobra.Command {
	var docker, asJSON bool
	c := &cobra.Command{
		Use:   "usage [--docker] PLUGIN",
		Short: "Show what holds a plugin (why it is in use) before disable or rm",
		Long: `Show what holds a plugin. For dockerd's plugins (--docker, or docker:NAME):
the volumes and networks whose driver (or IPAM driver) the plugin is, and the
containers that use them, from the Docker API. For plugdbg's own plugins: the
mounts not unmounted, and the volumes, networks, endpoints and IPAM pools
created and not removed, as far as a trace (plugdbg trace) saw them; without
a trace since the daemon started, that is unknown, and it says so.`,
		Example: `  plugdbg usage --docker sshfs
  plugdbg usage myvol`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			u, err := cl.Usage(cmd.Context(), dockerRef(args[0], docker), false)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(u)
			}
			return u.Format(cmd.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&docker, "docker", false, "PLUGIN is one of dockerd's plugins")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func newPublishCmd(g *globalOptions) *cobra.Command {
	var off bool
	c := &cobra.Command{
		Use:   "publish [--off] PLUGIN",
		Short: "Publish a plugin for dockerd's legacy plugin discovery while it is enabled",
		Long: `Publish the plugin for dockerd: while it is enabled, <dir>/<name>.sock (the
daemon's --docker-plugins-dir, /run/docker/plugins by default; the name
without ":latest") links to its socket, so that docker volume create -d NAME,
docker network create -d NAME and --ipam-driver NAME reach it. The choice is
kept with the plugin; --off withdraws it. The daemon's --docker-publish-all
publishes every enabled plugin.

Limits: legacy discovery carries no privileges and no settings (dockerd
neither shows nor manages the plugin), and dockerd's reference count of the
plugin is invisible to plugdbg: disabling it under dockerd's volumes breaks
them (see plugdbg usage).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			return cl.Publish(cmd.Context(), args[0], !off)
		},
	}
	c.Flags().BoolVar(&off, "off", false, "stop publishing the plugin")
	return c
}

func newBundleCmd(g *globalOptions) *cobra.Command {
	var docker bool
	var o bundle.Options
	c := &cobra.Command{
		Use:   "bundle [--docker] PLUGIN > bundle.tar.gz",
		Short: "Collect a plugin's config, state, logs, events, calls, check, processes and stats into one tar.gz",
		Long: `Write a tar.gz for a bug report to standard output: manifest, inspect, config,
settings, the last log lines, recent events and traced calls, what holds the
plugin, a conformance check of its socket (plugdbg check; it creates and
removes test objects, --no-check skips it), its process list and cgroup
stats. Values of env variables whose names contain key, token, secret or
pass are redacted. Parts that could not be collected are listed in
errors.txt.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("bundle writes a tar.gz: redirect standard output to a file")
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			return bundle.Write(cmd.Context(), cl, dockerRef(args[0], docker), o, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.BoolVar(&docker, "docker", false, "PLUGIN is one of dockerd's plugins")
	f.IntVar(&o.LogLines, "log-lines", 500, "last log lines to include")
	f.DurationVar(&o.EventsSince, "events-since", time.Hour, "include events this long ago onwards")
	f.BoolVar(&o.NoCheck, "no-check", false, "skip the conformance check")
	return c
}
