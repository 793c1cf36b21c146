package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/plugin"
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
)

// completionTimeout bounds the daemon calls one completion makes: the shell
// waits for them on every Tab, so a daemon that is slow, away or behind an
// ssh that asks for a password costs at most this, and offers nothing.
const completionTimeout = 1500 * time.Millisecond

// pluginArgs says how a verb's plugin arguments complete.
type pluginArgs struct {
	docker bool  // docker:NAME targets too (the daemon routes them to dockerd)
	all    bool  // every argument is a plugin, not only the first
	state  *bool // only the plugins enabled (true) or disabled (false)
}

var (
	enabled  = func() *bool { b := true; return &b }()
	disabled = func() *bool { b := false; return &b }()
)

// pluginCompletion is, by command path below the root, what each verb
// takes as its plugin arguments. Verbs that act on a running plugin offer
// only enabled ones; those that need it stopped, only disabled ones.
var pluginCompletion = map[string]pluginArgs{
	"enable":  {state: disabled},
	"disable": {state: enabled},
	"rm":      {all: true},
	"set":     {},
	"push":    {},
	"upgrade": {state: disabled},
	"publish": {},
	"inspect": {docker: true, all: true},
	"logs":    {docker: true},
	"stats":   {docker: true, all: true, state: enabled},
	"top":     {docker: true, state: enabled},
	"exec":    {docker: true, state: enabled},
	"probe":   {docker: true, state: enabled},
	"check":   {docker: true, state: enabled},
	"trace":   {docker: true, state: enabled},
	"observe": {docker: true},
	"usage":   {docker: true},
	"bundle":  {docker: true},
}

// addCompletions gives the commands under root their dynamic completions:
// plugin names from the daemon (docker:NAME targets from its dockerd where
// the verb takes them) and probe's method names from the catalog. It is
// done here, over the built tree, so that the verbs' files stay about their
// flags; a command that has a completion of its own keeps it.
func addCompletions(root *cobra.Command, g *globalOptions) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if pa, ok := pluginCompletion[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = g.completePluginArgs(pa)
			if path == "probe" {
				c.ValidArgsFunction = g.completeProbe(pa)
			}
		}
		switch path {
		case "probe":
			_ = c.RegisterFlagCompletionFunc("describe", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return matching(probe.MethodNames(), toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		case "check":
			_ = c.RegisterFlagCompletionFunc("interface", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return matching(interfaceNames(), toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completePluginArgs completes the plugin arguments pa describes, and
// nothing (no file names) elsewhere.
func (g *globalOptions) completePluginArgs(pa pluginArgs) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !pa.all {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return g.pluginNames(cmd, pa, toComplete, args), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeProbe completes probe's [PLUGIN] METHOD: a plugin first, unless
// --socket, --url or --spec names one, then the catalog's methods, those
// of the interfaces the plugin's config declares when it is known.
func (g *globalOptions) completeProbe(pa pluginArgs) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		none := cobra.ShellCompDirectiveNoFileComp
		f := cmd.Flags()
		if f.Changed("describe") {
			return nil, none
		}
		ref := ""
		if !f.Changed("socket") && !f.Changed("url") && !f.Changed("spec") {
			if len(args) == 0 {
				return g.pluginNames(cmd, pa, toComplete, nil), none
			}
			ref, args = args[0], args[1:]
		}
		if len(args) > 0 || f.Changed("list") {
			return nil, none // BODY and KEY=VALUE: nothing to offer
		}
		return matching(g.pluginMethods(cmd, ref), toComplete), none
	}
}

// pluginNames returns the names of the plugins pa selects that start
// with toComplete, leaving out those already given: plugdbg's own, and
// docker:NAME for dockerd's where the verb takes them. With --docker
// (usage, bundle), dockerd's are offered without the prefix. A daemon that
// does not answer in completionTimeout offers nothing.
func (g *globalOptions) pluginNames(cmd *cobra.Command, pa pluginArgs, toComplete string, given []string) []cobra.Completion {
	cl, err := g.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
	defer cancel()
	dockerFlag := cmd.Flags().Lookup("docker") != nil && cmd.Flags().Changed("docker")
	wantOwn := !dockerFlag
	// dockerd is asked only when a docker: name can still match what is typed.
	wantDocker := dockerFlag || (pa.docker && (strings.HasPrefix(types.DockerPrefix, toComplete) || strings.HasPrefix(toComplete, types.DockerPrefix)))
	var (
		mu  sync.Mutex
		out []cobra.Completion
		wg  sync.WaitGroup
	)
	add := func(docker bool, prefix string) {
		defer wg.Done()
		ps, err := cl.List(ctx, client.ListOptions{Docker: docker})
		if err != nil {
			return // no daemon, no dockerd: nothing to offer, quietly
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range ps {
			if pa.state != nil && p.Enabled != *pa.state {
				continue
			}
			out = append(out, prefix+strings.TrimSuffix(p.Name, ":latest"))
		}
	}
	if wantOwn {
		wg.Add(1)
		go add(false, "")
	}
	if wantDocker {
		prefix := types.DockerPrefix
		if dockerFlag {
			prefix = ""
		}
		wg.Add(1)
		go add(true, prefix)
	}
	wg.Wait()
	out = slices.DeleteFunc(out, func(n string) bool { return slices.Contains(given, n) })
	slices.Sort(out)
	return matching(out, toComplete)
}

// pluginMethods returns the catalog's methods for plugin ref: Plugin.Activate
// and those of the interfaces its config declares, or every method when
// the plugin is not known (no plugin, --socket, no daemon).
func (g *globalOptions) pluginMethods(cmd *cobra.Command, ref string) []string {
	all := probe.MethodNames()
	if ref == "" {
		return all
	}
	cl, err := g.client()
	if err != nil {
		return all
	}
	ctx, cancel := context.WithTimeout(completionContext(cmd), completionTimeout)
	defer cancel()
	p, err := cl.Inspect(ctx, ref)
	if err != nil || len(p.Config.Interface.Types) == 0 {
		return all
	}
	var out []string
	for _, n := range all {
		iface, _, _ := strings.Cut(n, ".")
		_, typ, _ := probe.InterfaceOf(iface)
		if typ == "" || slices.ContainsFunc(p.Config.Interface.Types, func(t plugin.CapabilityID) bool {
			return strings.EqualFold(t.String(), typ)
		}) {
			out = append(out, n)
		}
	}
	return out
}

// interfaceNames are the names check --interface takes: those
// Plugin.Activate lists, as the catalog knows them.
func interfaceNames() []string {
	var out []string
	for _, n := range probe.MethodNames() {
		iface, _, _ := strings.Cut(n, ".")
		if impl, _, _ := probe.InterfaceOf(iface); impl != "" && !slices.Contains(out, impl) {
			out = append(out, impl)
		}
	}
	return out
}

// matching returns the candidates that start with toComplete; if none
// does, those that do in another case (a shell that matches without case
// then finds them).
func matching(candidates []string, toComplete string) []cobra.Completion {
	var out, folded []cobra.Completion
	lower := strings.ToLower(toComplete)
	for _, c := range candidates {
		switch {
		case strings.HasPrefix(c, toComplete):
			out = append(out, c)
		case strings.HasPrefix(strings.ToLower(c), lower):
			folded = append(folded, c)
		}
	}
	if len(out) == 0 {
		return folded
	}
	return out
}

// completionContext is the command's context, which cobra's __complete
// does not always set.
func completionContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
