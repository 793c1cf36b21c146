// Package bundle collects what a bug report about one plugin needs into a
// single tar.gz: inspect, config and settings (secrets redacted), the last
// log lines, recent events and traced calls, what holds the plugin, a
// conformance check of its socket, its processes and cgroup stats.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/probe/conformance"
	"github.com/plugdbg/plugdbg/version"
)

// Options tune Write.
type Options struct {
	LogLines    int           // the last this many log lines
	EventsSince time.Duration // events of this long ago onwards
	NoCheck     bool          // skip the conformance check (it creates and removes test objects on the plugin)
	Now         func() time.Time
}

// Redacted replaces the values of secret env variables.
const Redacted = "<redacted>"

// secretName matches env names whose values are never put in a bundle.
var secretName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)key|token|secret|pass`) })

// Write collects plugin ref ("docker:NAME" for dockerd's) from the daemon
// c talks to and writes the bundle to w. Parts that cannot be collected
// are listed in errors.txt; only a plugin that cannot be inspected fails.
func Write(ctx context.Context, c *client.Client, ref string, o Options, w io.Writer) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LogLines == 0 {
		o.LogLines = 500
	}
	if o.EventsSince == 0 {
		o.EventsSince = time.Hour
	}
	in, err := c.Inspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", ref, err)
	}
	in.Plugin = Redact(in.Plugin)
	docker := strings.HasPrefix(ref, "docker:")

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := o.Now()
	var problems []string
	add := func(name string, data []byte) {
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg})
		}
		if err == nil {
			_, err = tw.Write(data)
		}
	}
	addJSON := func(name string, v any) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(v); jerr != nil {
			problems = append(problems, name+": "+jerr.Error())
			return
		}
		add(name, buf.Bytes())
	}
	failed := func(part string, e error) { problems = append(problems, part+": "+e.Error()) }

	addJSON("manifest.json", map[string]any{
		"Target": ref, "ID": in.ID, "Name": in.Name, "Created": now.UTC(), "plugdbg": version.Version,
		"Redacted": "values of env variables whose names match " + secretName().String(),
	})
	addJSON("inspect.json", in)
	addJSON("config.json", in.Config)
	addJSON("settings.json", in.Settings)

	// Log lines.
	var logBuf bytes.Buffer
	tail := o.LogLines
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if e := c.Logs(lctx, ref, client.LogsOptions{Tail: &tail}, func(l types.LogLine) error {
		fmt.Fprintf(&logBuf, "%s %s %s\n", time.Unix(0, l.Time).UTC().Format(time.RFC3339Nano), l.Stream, l.Line)
		return nil
	}); e != nil {
		failed("logs", e)
	}
	cancel()
	add("logs.txt", logBuf.Bytes())

	// Events of the plugin: those already past arrive at once.
	if docker {
		problems = append(problems, "events: not collected for dockerd's plugins (see docker events)")
	} else {
		var evs []events.Message
		ectx, cancel := context.WithTimeout(ctx, time.Second)
		if e := c.Events(ectx, now.Add(-o.EventsSince), func(ev events.Message) error {
			if ev.Actor.ID == in.ID {
				if v, ok := ev.Actor.Attributes["settings"]; ok {
					ev.Actor.Attributes["settings"] = redactKVs(v)
				}
				evs = append(evs, ev)
			}
			return nil
		}); e != nil {
			failed("events", e)
		}
		cancel()
		addJSON("events.json", evs)
	}

	// What holds it, and the traced calls.
	if u, e := c.Usage(ctx, ref, true); e != nil {
		failed("usage", e)
	} else {
		calls := u.Calls
		u.Calls = nil
		addJSON("usage.json", u)
		addJSON("trace.json", calls)
	}

	if in.Enabled {
		if t, e := c.Top(ctx, ref); e != nil {
			failed("top", e)
		} else {
			addJSON("top.json", t)
		}
		var rep *types.StatsReport
		if e := c.Stats(ctx, ref, false, func(r types.StatsReport) error { rep = &r; return nil }); e != nil {
			failed("stats", e)
		} else {
			addJSON("stats.json", rep)
		}
		if !o.NoCheck && in.State.Socket != "" {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			rep, e := check(cctx, c, ref)
			cancel()
			if e != nil {
				failed("check", e)
			}
			if rep != nil {
				addJSON("check.json", rep)
			}
		}
	} else {
		problems = append(problems, "top, stats, check: the plugin is disabled")
	}
	add("errors.txt", []byte(strings.Join(problems, "\n")+"\n"))
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", ref, err)
	}
	return nil
}

// check runs the conformance suite on plugin ref's socket: directly when
// it is on this machine, else through tunnels the daemon opens to it.
func check(ctx context.Context, c *client.Client, ref string) (*conformance.Report, error) {
	ep, err := c.PluginEndpoint(ctx, ref)
	if err != nil {
		return nil, err
	}
	pc := probe.NewClient(probe.Target{Network: "unix", Addr: ep.Socket, Dial: ep.Dial, Via: ep.Via})
	defer pc.Close()
	return conformance.Check(ctx, pc, conformance.Options{Timeout: 30 * time.Second})
}

// redactKVs redacts the secret values in space-separated NAME=VALUE pairs
// (a set event's settings).
func redactKVs(s string) string {
	f := strings.Fields(s)
	for i, kv := range f {
		if name, _, ok := strings.Cut(kv, "="); ok && secretName().MatchString(name) {
			f[i] = name + "=" + Redacted
		}
	}
	return strings.Join(f, " ")
}

// Redact returns p with the values of secret env variables (names
// matching key, token, secret or pass, in any case) replaced, in its
// settings and its config's defaults.
func Redact(p plugin.Plugin) plugin.Plugin {
	env := make([]string, len(p.Settings.Env))
	for i, kv := range p.Settings.Env {
		name, _, ok := strings.Cut(kv, "=")
		if ok && secretName().MatchString(name) {
			kv = name + "=" + Redacted
		}
		env[i] = kv
	}
	p.Settings.Env = env
	cenv := make([]plugin.Env, len(p.Config.Env))
	for i, e := range p.Config.Env {
		if secretName().MatchString(e.Name) && e.Value != nil {
			v := Redacted
			e.Value = &v
		}
		cenv[i] = e
	}
	p.Config.Env = cenv
	return p
}
