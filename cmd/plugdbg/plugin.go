package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/cli/format"
	"github.com/plugdbg/plugdbg/client"
)

// The --format flags' help, as docker's.
const (
	formatListUsage = `format output using a custom template:
'table':            print output in table format with column headers (default)
'table TEMPLATE':   print output in table format using the given Go template
'json':             print in JSON format
'TEMPLATE':         print output using the given Go template`
	formatInspectUsage = `format output using a custom template:
'json':             print in JSON format
'TEMPLATE':         print output using the given Go template`
)

func newCreateCmd(g *globalOptions) *cobra.Command {
	var logOpts []string
	c := &cobra.Command{
		Use:   "create [--log-opt KEY=VALUE]... PLUGIN PLUGIN-DATA-DIR",
		Short: "Create a plugin from a directory with config.json and rootfs/",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err = cl.CreateFromDir(cmd.Context(), args[0], args[1], logOpts...); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
	c.Flags().StringArrayVar(&logOpts, "log-opt", nil, logOptUsage)
	return c
}

// logOptUsage documents --log-opt, as docker run's json-file names them.
const logOptUsage = "rotation of the plugin's output history: max-size=SIZE (10k, 20m, 1g; -1: never rotate) or max-file=N (files kept); daemon defaults otherwise"

func newEnableCmd(g *globalOptions) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "enable PLUGIN",
		Short: "Start a plugin and wait until it answers Plugin.Activate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return fmt.Errorf("negative timeout %d is invalid", timeout)
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			progress := &client.Display{Out: cmd.OutOrStdout(), TTY: stdoutTTY(cmd)}
			if err = cl.EnableProgress(cmd.Context(), args[0], time.Duration(timeout)*time.Second, progress); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
	c.Flags().IntVar(&timeout, "timeout", 30, "seconds to wait for the plugin to be ready")
	return c
}

func newDisableCmd(g *globalOptions) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "disable PLUGIN",
		Short: "Stop a plugin (SIGTERM, then SIGKILL after a grace period)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err = cl.Disable(cmd.Context(), args[0], force); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill at once, without the grace period")
	return c
}

func newRemoveCmd(g *globalOptions) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm PLUGIN [PLUGIN...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more plugins",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			var failed []string
			for _, name := range args {
				if err := cl.Remove(cmd.Context(), name, force); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "Error:", err)
					failed = append(failed, name)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(failed) > 0 {
				return exitError{code: 1, msg: "could not remove " + strings.Join(failed, ", ")}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove an enabled plugin too (it is stopped first)")
	return c
}

func newSetCmd(g *globalOptions) *cobra.Command {
	var logOpts []string
	c := &cobra.Command{
		Use:   "set [--log-opt KEY=VALUE]... PLUGIN [KEY=VALUE...]",
		Short: "Change a disabled plugin's settings (env, args, mount sources, device paths), or any plugin's log opts",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) < 2 && len(logOpts) == 0 {
				return fmt.Errorf("%q requires a plugin and at least one KEY=VALUE or --log-opt", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if len(args) > 1 {
				if err := cl.Set(cmd.Context(), args[0], args[1:]); err != nil {
					return err
				}
			}
			if len(logOpts) > 0 {
				return cl.SetLogOpts(cmd.Context(), args[0], logOpts)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&logOpts, "log-opt", nil, logOptUsage+"; takes effect at once, even while the plugin runs")
	return c
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "inspect PLUGIN [PLUGIN...]",
		Short: "Show plugins in detail (Docker's fields plus State)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tmpl != "" {
				if _, err := format.ParseInspect(tmpl); err != nil {
					return err // before the daemon is asked, as docker
				}
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			// As docker: the plugins found are shown, then the errors.
			var (
				all  []any
				errs []error
			)
			for _, name := range args {
				p, err := cl.Inspect(cmd.Context(), name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				all = append(all, p)
			}
			if err := format.Inspect(cmd.OutOrStdout(), tmpl, all); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", formatInspectUsage)
	return c
}

type listOptions struct {
	quiet   bool
	noTrunc bool
	format  string
	filters []string
	docker  bool
}

func newListCmd(g *globalOptions) *cobra.Command {
	o := listOptions{}
	c := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List plugins",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lo, err := parseListFilters(o.filters)
			if err != nil {
				return err
			}
			lo.Docker = o.docker
			cl, err := g.client()
			if err != nil {
				return err
			}
			plugins, err := cl.List(cmd.Context(), lo)
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), plugins, o)
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only show plugin IDs")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs and descriptions")
	f.StringVar(&o.format, "format", "", formatListUsage)
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output (enabled=true|false, capability=volumedriver)")
	f.BoolVar(&o.docker, "docker", false, "list dockerd's managed plugins (the daemon's --docker-host); use them as docker:NAME")
	return c
}

func parseListFilters(args []string) (client.ListOptions, error) {
	var lo client.ListOptions
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return lo, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		switch k {
		case "enabled":
			b := v == "true" || v == "1"
			if !b && v != "false" && v != "0" {
				return lo, fmt.Errorf("invalid filter 'enabled=%s': want true or false", v)
			}
			lo.Enabled = &b
		case "capability":
			lo.Capability = append(lo.Capability, v)
		default:
			return lo, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return lo, nil
}

// listRow is what ls templates see, docker's columns and plugdbg's; its
// fields are in the order of their names, as docker's --format json
// writes them. A template may use the plugin's inspect fields too
// (pluginRow's JSON).
type listRow struct {
	Description     string
	Enabled         bool
	ID              string
	Name            string
	PluginReference string
	Restarts        int
	Status          string
}

// pluginRow is a list row whose template falls back to the whole
// plugin's JSON for a field that listRow lacks (.Id, .Config.Description),
// as docker's inspect templates do.
type pluginRow struct {
	listRow
	p types.Inspect
}

func (r pluginRow) FormatFallback() any { return r.p }

// listHeader titles ls's table columns.
var listHeader = format.Header{"ID": "ID", "Name": "NAME", "Description": "DESCRIPTION", "Enabled": "ENABLED",
	"PluginReference": "PLUGIN REFERENCE", "Status": "STATUS", "Restarts": "RESTARTS"}

// defaultListFormat is docker plugin ls's table.
const defaultListFormat = "table {{.ID}}\t{{.Name}}\t{{.Description}}\t{{.Enabled}}"

func printList(out io.Writer, plugins []types.Inspect, o listOptions) error {
	rows := make([]pluginRow, 0, len(plugins))
	for _, p := range plugins {
		// Like docker, drop line breaks so that each plugin stays on one line.
		desc := strings.NewReplacer("\n", "", "\r", "").Replace(p.Config.Description)
		r := listRow{ID: p.ID, Name: p.Name, Description: desc, PluginReference: p.PluginReference,
			Enabled: p.Enabled, Status: p.State.Status, Restarts: p.State.RestartCount}
		if !o.noTrunc {
			r.ID = truncate(r.ID, 12)
			r.Description = ellipsis(r.Description, 45)
		}
		rows = append(rows, pluginRow{listRow: r, p: p})
	}
	if o.quiet {
		for _, r := range rows {
			fmt.Fprintln(out, r.ID)
		}
		return nil
	}
	return format.Rows(out, o.format, defaultListFormat, listHeader, rows)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }
