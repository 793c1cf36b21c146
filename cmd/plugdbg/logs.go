package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/cli/format"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/logs"
)

type logsOptions struct {
	follow, timestamps, all bool
	since, until, tail      string
	stream, grep            string
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	o := logsOptions{}
	c := &cobra.Command{
		Use:   "logs [PLUGIN]",
		Short: "Show a plugin's output, from its history on disk and live with -f",
		Long: `Show what a plugin wrote on stdout and stderr. The history survives
rotations and daemon restarts; -f then follows live, without a gap or a
repeated line. --all merges every plugin's lines in time order.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.all && len(args) > 0 {
				return fmt.Errorf("--all takes no plugin name")
			}
			if !o.all && len(args) != 1 {
				return fmt.Errorf("logs needs one plugin name (or --all)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			lo, err := o.clientOptions(time.Now())
			if err != nil {
				return err
			}
			ref := ""
			if !o.all {
				ref = args[0]
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer w.Flush()
			// Flush whenever the stream pauses: each line shows at once,
			// and a burst costs one write, not one per line.
			lo.OnIdle = func() { _ = w.Flush() }
			lo.InPlace = true // print copies each line into w before the next is read
			cl, err := g.client()
			if err != nil {
				return err
			}
			p := newLinePrinter(w, o)
			return cl.Logs(cmd.Context(), ref, lo, func(l types.LogLine) error {
				p.print(l)
				return nil
			})
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "follow live output")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "show the time each line was read (nanoseconds)")
	f.BoolVar(&o.all, "all", false, "every plugin, each line prefixed by its name")
	f.StringVar(&o.since, "since", "", "lines since a time: RFC 3339 (2026-11-27T10:00:00Z) or a duration ago (10m)")
	f.StringVar(&o.until, "until", "", "lines before a time: RFC 3339 or a duration ago")
	f.StringVarP(&o.tail, "tail", "n", "all", "number of lines to show from the end of the history")
	f.StringVar(&o.stream, "stream", "", "only stdout or stderr")
	f.StringVar(&o.grep, "grep", "", "only lines matching this regular expression (filtered in the daemon)")
	return c
}

func (o logsOptions) clientOptions(now time.Time) (client.LogsOptions, error) {
	lo := client.LogsOptions{Follow: o.follow, Stream: o.stream, Grep: o.grep}
	var err error
	if lo.Since, err = parseTimeFlag(o.since, now); err != nil {
		return lo, fmt.Errorf("invalid --since: %w", err)
	}
	if lo.Until, err = parseTimeFlag(o.until, now); err != nil {
		return lo, fmt.Errorf("invalid --until: %w", err)
	}
	if o.tail != "all" && o.tail != "" {
		n, err := strconv.Atoi(o.tail)
		if err != nil || n < 0 {
			return lo, fmt.Errorf("invalid --tail %q: want a number or \"all\"", o.tail)
		}
		lo.Tail = &n
	}
	switch o.stream {
	case "", logs.Stdout, logs.Stderr:
	default:
		return lo, fmt.Errorf("invalid --stream %q: want stdout or stderr", o.stream)
	}
	return lo, nil
}

// parseTimeFlag reads RFC 3339 (with or without a fraction), a date, or a
// duration back from now as Docker's --since does.
func parseTimeFlag(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, e.g. 2026-11-27T10:00:00Z) nor a duration (e.g. 10m)", v)
}

// linePrinter writes the lines of plugdbg logs. A follower of a flooding
// plugin prints hundreds of thousands of lines a second, and one that
// falls behind makes the daemon catch it up from the history on disk: so
// each line is appended straight into the writer's buffer, with no fmt
// and no time.Format (the timestamp's second is formatted once per
// second, its nanoseconds by hand).
type linePrinter struct {
	w      *bufio.Writer
	o      logsOptions
	stamps logs.StampCache
}

// stampLayout is docker's logs -t format (RFC 3339, fixed nanoseconds).
const stampLayout = "2006-01-02T15:04:05.000000000Z07:00"

func newLinePrinter(w *bufio.Writer, o logsOptions) *linePrinter {
	return &linePrinter{w: w, o: o}
}

// print writes l as printLogLine does.
func (p *linePrinter) print(l types.LogLine) {
	if l.Skipped > 0 {
		printLogLine(p.w, l, p.o)
		return
	}
	b := p.w.AvailableBuffer()
	if p.o.all {
		b = append(append(b, l.Name...), " | "...)
	}
	if p.o.timestamps {
		b = append(p.appendStamp(b, l.Time), ' ')
	}
	b = logs.AppendEscape(b, l.Text())
	if !l.Partial {
		b = append(b, '\n')
	}
	_, _ = p.w.Write(b)
}

// appendStamp appends unix nanoseconds ns in stampLayout, UTC.
func (p *linePrinter) appendStamp(b []byte, ns int64) []byte {
	return p.stamps.Append(b, stampLayout, time.Unix(0, ns).UTC())
}

// printLogLine writes one line of plugdbg logs, the reference linePrinter
// is held to (TestLinePrinterMatchesPrintLogLine).
func printLogLine(w io.Writer, l types.LogLine, o logsOptions) {
	if l.Skipped > 0 {
		fmt.Fprintf(w, "… %d lines skipped: no longer in %s's history (rotated away, or never stored on a full disk) …\n", l.Skipped, l.Name)
		return
	}
	if o.all {
		fmt.Fprintf(w, "%s | ", l.Name)
	}
	if o.timestamps {
		fmt.Fprintf(w, "%s ", time.Unix(0, l.Time).UTC().Format(stampLayout))
	}
	io.WriteString(w, logs.Escape(l.Text()))
	if !l.Partial {
		io.WriteString(w, "\n")
	}
}

type eventsOptions struct {
	since, until, format string
	filters              []string
}

func newEventsCmd(g *globalOptions) *cobra.Command {
	var o eventsOptions
	c := &cobra.Command{
		Use:   "events",
		Short: "Stream plugin lifecycle events (create, enable, exit, restarting, …)",
		Long: `Stream plugin lifecycle events, as docker events does: the recent ones
since --since, then live ones until interrupted or --until passes (with
--until in the past: the past events only, then exit).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eo, tmpl, err := o.parse(time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			cl, err := g.client()
			if err != nil {
				return err
			}
			return cl.WatchEvents(cmd.Context(), eo, func(ev events.Message) error {
				if tmpl == nil {
					_, err := fmt.Fprintln(out, formatEvent(ev))
					return err
				}
				return tmpl.Execute(out, ev)
			})
		},
	}
	f := c.Flags()
	f.StringVar(&o.since, "since", "", "also show events since a time (RFC 3339, unix seconds or a duration ago)")
	f.StringVar(&o.until, "until", "", "stream events until a time (RFC 3339, unix seconds or a duration ago)")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output: plugin=NAME|ID, type=plugin, event=ACTION (one key's values: any of them; different keys: all)")
	f.StringVar(&o.format, "format", "", formatInspectUsage)
	return c
}

// eventFilterKeys are the filters events takes (docker's for plugins).
var eventFilterKeys = []string{"plugin", "type", "event"}

// maxFilterArgs bounds --filter, far above what anyone types.
const maxFilterArgs = 256

// parse checks the flags before the daemon is asked: times, filters and
// the template (run on a sample event, as docker events checks it).
func (o eventsOptions) parse(now time.Time) (client.EventsOptions, *format.Template, error) {
	var eo client.EventsOptions
	var err error
	if eo.Since, err = parseTimeFlag(o.since, now); err != nil {
		return eo, nil, fmt.Errorf("invalid --since: %w", err)
	}
	if eo.Until, err = parseTimeFlag(o.until, now); err != nil {
		return eo, nil, fmt.Errorf("invalid --until: %w", err)
	}
	if !eo.Until.IsZero() && eo.Until.Before(eo.Since) {
		return eo, nil, fmt.Errorf("--since (%s) is after --until (%s)", o.since, o.until)
	}
	if len(o.filters) > maxFilterArgs {
		return eo, nil, fmt.Errorf("%d filters: at most %d", len(o.filters), maxFilterArgs)
	}
	for _, a := range o.filters {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return eo, nil, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		if !slices.Contains(eventFilterKeys, k) {
			return eo, nil, fmt.Errorf("invalid filter '%s': events take %s", k, strings.Join(eventFilterKeys, "=, ")+"=")
		}
		if eo.Filters == nil {
			eo.Filters = map[string][]string{}
		}
		eo.Filters[k] = append(eo.Filters[k], v)
	}
	if o.format == "" {
		return eo, nil, nil
	}
	if strings.HasPrefix(o.format, format.TableKey) {
		return eo, nil, fmt.Errorf("invalid --format %q: events are a stream, not a table", o.format)
	}
	tmpl, err := format.ParseInspect(o.format)
	if err != nil {
		return eo, nil, err
	}
	sample := events.Message{Type: events.PluginEventType, Action: events.ActionCreate, Scope: "local", Time: 1, TimeNano: 1,
		Actor: events.Actor{ID: "id", Attributes: map[string]string{"name": "name"}}}
	if err := tmpl.Execute(io.Discard, sample); err != nil {
		return eo, nil, err
	}
	return eo, tmpl, nil
}

// formatEvent renders an event as `docker events` does.
func formatEvent(ev events.Message) string {
	s := fmt.Sprintf("%s %s %s %s", time.Unix(0, ev.TimeNano).UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), ev.Type, ev.Action, ev.Actor.ID)
	if len(ev.Actor.Attributes) > 0 {
		s += " (" + joinAttrs(ev.Actor.Attributes) + ")"
	}
	return s
}

func joinAttrs(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + attrs[k])
	}
	return b.String()
}
