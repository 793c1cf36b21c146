package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options are what `plugdbg probe` was asked.
type Options struct {
	// Args are the positional arguments: [TARGET] METHOD [BODY] [KEY=VALUE...].
	// TARGET (a plugdbg plugin) is absent when Socket, URL or Spec is set.
	Args []string

	Socket string // a unix socket path
	URL    string // unix://, tcp://, https:// address
	Spec   string // a legacy .spec or .json file
	// Resolve maps a plugdbg plugin name or ID to where it listens: its
	// socket path, with a Target.Dial when the path is on another machine.
	// It is needed only when TARGET is a plugin.
	Resolve func(ctx context.Context, ref string) (Target, error)

	Stdin io.Reader // for BODY "-"

	List     bool   // list what the target implements (or the whole catalog)
	Describe string // describe a method, no call
	Verbose  bool   // status, headers and timing on stderr
	Raw      bool   // the answer as received, not re-indented
	Strict   bool   // schema problems are errors

	Repeat      int // call this many times and print latency statistics
	Concurrency int // with Repeat: calls in flight

	Timeout time.Duration // per call; 0: none
}

// PluginError is a 200 answer whose error field is not empty.
type PluginError struct {
	Method string
	Msg    string
}

func (e *PluginError) Error() string { return e.Method + ": plugin error: " + e.Msg }

// InvalidError is an answer that is not JSON, or that breaks its schema
// under --strict.
type InvalidError struct {
	Method   string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	if len(e.Problems) == 1 {
		return e.Method + ": " + e.Problems[0].String()
	}
	return fmt.Sprintf("%s: %d problems in the answer (--strict)", e.Method, len(e.Problems))
}

var assignRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*:?=`) })

// Run does what o asks: describe a method, list the catalog or what a
// plugin implements, or call one method and print the answer on stdout
// (problems and -v details on stderr). What went wrong with the call is told
// by the error's type: *TransportError (no complete answer), *StatusError
// (not a 200), *PluginError (a 200 with an error field) or *InvalidError
// (not JSON, or schema problems under Strict); any other error is a usage
// error.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if o.Describe != "" {
		m, err := lookupMethod(o.Describe)
		if err != nil {
			return err
		}
		if len(o.Args) > 0 {
			return fmt.Errorf("--describe takes no arguments, got %q", o.Args)
		}
		return Describe(stdout, m)
	}
	args := o.Args
	target, args, err := o.Target(ctx, args)
	if err != nil {
		return err
	}
	if o.List {
		if len(args) > 0 {
			return fmt.Errorf("--list takes no method or body, got %q", args)
		}
		if target == nil {
			return WriteCatalog(stdout, nil)
		}
		c := NewClient(*target)
		defer c.Close()
		cctx, cancel := o.callContext(ctx)
		defer cancel()
		m, err := c.Activate(cctx)
		if err != nil {
			if IsNotFound(err) {
				return fmt.Errorf("list %s: the plugin does not answer Plugin.Activate: %w", target, err)
			}
			return err
		}
		return WriteCatalog(stdout, m.Implements)
	}
	if target == nil {
		return fmt.Errorf("%w: name a plugdbg plugin, or use --socket, --url or --spec", ErrNoPlugin)
	}
	if len(args) == 0 {
		return errors.New("no method given (plugdbg probe --list shows them)")
	}
	m, err := lookupMethod(args[0])
	if err != nil {
		return err
	}
	body, err := o.body(m, args[1:])
	if err != nil {
		return err
	}
	c := NewClient(*target)
	defer c.Close()
	if o.Repeat > 0 {
		st, err := Bench(ctx, c, m.Name, body, BenchOptions{Calls: o.Repeat, Concurrency: o.Concurrency, Timeout: o.Timeout})
		if err != nil {
			return err
		}
		return st.Write(stdout)
	}
	cctx, cancel := o.callContext(ctx)
	defer cancel()
	r, err := c.Once(cctx, m.Name, body)
	if err != nil {
		return err
	}
	if o.Verbose {
		writeExchange(stderr, target, r)
	}
	writeBody(stdout, r.Body, o.Raw)
	if err := r.Err(); err != nil {
		if IsNotFound(err) {
			return o.notImplemented(cctx, c, m, err)
		}
		return err
	}
	if m.Response != nil && !m.Stream && !json.Valid(r.Body) {
		return &InvalidError{Method: m.Name, Problems: []Problem{{Msg: fmt.Sprintf(
			"the answer is not JSON (Content-Type %q): %q; dockerd fails to decode it",
			r.Header.Get("Content-Type"), truncate(bytes.TrimSpace(r.Body), 120))}}}
	}
	if msg := m.PluginErr(r.Body); msg != "" {
		return &PluginError{Method: m.Name, Msg: msg}
	}
	if ps := Validate(m, r.Body); len(ps) > 0 {
		level := "warning"
		if o.Strict {
			level = "error"
		}
		for _, p := range ps {
			fmt.Fprintf(stderr, "%s: %s\n", level, p)
		}
		if o.Strict {
			return &InvalidError{Method: m.Name, Problems: ps}
		}
	}
	return nil
}

func (o Options) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.Timeout > 0 {
		return context.WithTimeout(ctx, o.Timeout)
	}
	return context.WithCancel(ctx)
}

// ErrNoPlugin is the usage error of a probe or check that names no plugin
// (a method where the plugin belongs, or nothing at all).
var ErrNoPlugin = errors.New("no plugin given")

// NotImplementedError is a 404 for a method of an interface the plugin does
// not implement, as its Plugin.Activate says. It wraps the *StatusError.
type NotImplementedError struct {
	Target     string   // as the user named it: a plugin, or --socket PATH
	Interface  string   // the method's, e.g. "NetworkDriver"
	Implements []string // what Plugin.Activate lists
	ListCmd    string   // the command that lists what the plugin implements
	Err        error
}

func (e *NotImplementedError) Error() string {
	impl := "no interface"
	if len(e.Implements) > 0 {
		impl = strings.Join(e.Implements, ", ")
	}
	var se *StatusError
	status := e.Err.Error()
	if errors.As(e.Err, &se) {
		status = fmt.Sprintf("%s: HTTP %d", se.Method, se.Status)
	}
	return fmt.Sprintf("%s: %s does not implement %s (it implements %s); see %s",
		status, e.Target, e.Interface, impl, e.ListCmd)
}

func (e *NotImplementedError) Unwrap() error { return e.Err }

// notImplemented explains a 404 for m: when the plugin's Plugin.Activate
// does not list m's interface, the method was sent to the wrong plugin (or
// the wrong interface was asked), which the bare 404 does not say. Otherwise,
// or if Plugin.Activate fails too, it returns err as it is.
func (o Options) notImplemented(ctx context.Context, c *Client, m *Method, err error) error {
	implName, _, ok := InterfaceOf(m.Interface)
	if !ok || m.Interface == "Plugin" {
		return err
	}
	man, aerr := c.Activate(ctx)
	if aerr != nil || slices.Contains(man.Implements, implName) {
		return err
	}
	name, listCmd := o.targetWords(c.Target())
	return &NotImplementedError{Target: name, Interface: m.Interface, Implements: man.Implements, ListCmd: listCmd, Err: err}
}

// targetWords returns how the user named the target (a plugin as given, or
// the flag and its value) and the probe --list command for it.
func (o Options) targetWords(t Target) (name, listCmd string) {
	for _, f := range []struct{ flag, v string }{{"--socket", o.Socket}, {"--url", o.URL}, {"--spec", o.Spec}} {
		if f.v != "" {
			return t.String(), "plugdbg probe " + f.flag + " " + f.v + " --list"
		}
	}
	if len(o.Args) > 0 {
		return o.Args[0], "plugdbg probe --list " + o.Args[0]
	}
	return t.String(), "plugdbg probe --list"
}

// methodInPluginPlace reports whether arg, given where the plugin belongs,
// is a method instead: its interface is one of the catalog's, spelt with a
// capital letter, which no plugin name can have (Docker references are
// lower case). A lower-case "volumedriver.list" may be a plugin, and is
// resolved as one.
func methodInPluginPlace(arg string) bool {
	prefix, _, ok := strings.Cut(arg, ".")
	if !ok || strings.ToLower(arg) == arg || strings.ContainsAny(arg, ":/@") {
		return false
	}
	for _, n := range MethodNames() {
		if p, _, _ := strings.Cut(n, "."); strings.EqualFold(p, prefix) {
			return true
		}
	}
	return false
}

// Target picks the plugin o names: by Socket, URL or Spec (at most one), or
// else by the first argument, a plugdbg plugin resolved by Resolve. It
// returns the arguments left, and a nil Target when nothing names one.
func (o Options) Target(ctx context.Context, args []string) (*Target, []string, error) {
	n := 0
	for _, s := range []string{o.Socket, o.URL, o.Spec} {
		if s != "" {
			n++
		}
	}
	var t Target
	var err error
	switch {
	case n > 1:
		return nil, nil, errors.New("give only one of --socket, --url and --spec")
	case o.Socket != "":
		t = Target{Network: "unix", Addr: o.Socket}
	case o.URL != "":
		t, err = ParseURL(o.URL)
	case o.Spec != "":
		t, err = ReadSpec(o.Spec)
	case len(args) == 0:
		return nil, args, nil
	default:
		if methodInPluginPlace(args[0]) {
			return nil, nil, fmt.Errorf("%w: %s is a method; name the plugin before it (PLUGIN METHOD), or use --socket, --url or --spec", ErrNoPlugin, args[0])
		}
		if o.Resolve == nil {
			return nil, nil, errors.New("no way to resolve plugin names here: use --socket")
		}
		rt, rerr := o.Resolve(ctx, args[0])
		if rerr != nil {
			return nil, nil, rerr
		}
		t, args = rt, args[1:]
	}
	if err != nil {
		return nil, nil, err
	}
	return &t, args, nil
}

// body reads BODY (JSON, @file or - for stdin) and applies KEY=VALUE fields.
func (o Options) body(m *Method, args []string) ([]byte, error) {
	var base []byte
	var assigns []string
	haveBody := false
	for _, a := range args {
		if assignRE().MatchString(a) {
			assigns = append(assigns, a)
			continue
		}
		if haveBody {
			return nil, fmt.Errorf("more than one BODY argument: %q (fields are KEY=VALUE)", a)
		}
		haveBody = true
		var err error
		switch {
		case a == "-":
			if o.Stdin == nil {
				return nil, errors.New("BODY -: no standard input")
			}
			base, err = io.ReadAll(o.Stdin)
		case strings.HasPrefix(a, "@"):
			base, err = os.ReadFile(a[1:])
		default:
			base = []byte(a)
		}
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
	}
	if haveBody && m.EmptyBody() && len(bytes.TrimSpace(base)) > 0 {
		// dockerd never sends one, but a plugin may still be asked.
		if !json.Valid(base) {
			return nil, fmt.Errorf("request body is not valid JSON: %s", truncate(base, 80))
		}
	}
	return BuildBody(m, base, assigns)
}

func lookupMethod(name string) (*Method, error) {
	if m, ok := Lookup(name); ok {
		return m, nil
	}
	msg := fmt.Sprintf("unknown method %q", name)
	if s := Suggest(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return nil, errors.New(msg + " (plugdbg probe --list shows every method)")
}

// PluginErr returns the error a 200 answer of m carries in m's error field
// (Err, or Error for IPAM), as dockerd reads it; "" if none.
func (m *Method) PluginErr(body []byte) string {
	if m.ErrField == "" || !bytes.Contains(body, []byte(m.ErrField)) {
		return "" // the common case, without decoding (--repeat)
	}
	// Only the one field: --repeat checks every answer.
	var v map[string]json.RawMessage
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(v[m.ErrField], &s)
	return s
}

func writeBody(w io.Writer, body []byte, raw bool) {
	if len(body) == 0 {
		return
	}
	if !raw {
		var buf bytes.Buffer
		if json.Indent(&buf, bytes.TrimSpace(body), "", "  ") == nil {
			buf.WriteByte('\n')
			_, _ = w.Write(buf.Bytes())
			return
		}
	}
	_, _ = w.Write(body)
	if !raw && !bytes.HasSuffix(body, []byte("\n")) {
		fmt.Fprintln(w)
	}
}

// writeExchange writes the request and answer heads as curl -v does.
func writeExchange(w io.Writer, t *Target, r *Response) {
	fmt.Fprintf(w, "* %s\n", t)
	fmt.Fprintf(w, "> POST /%s HTTP/1.1\n", r.Method)
	writeHeader(w, "> ", r.RequestHead())
	fmt.Fprintln(w, ">")
	if len(r.RequestBody) > 0 {
		fmt.Fprintf(w, "> %s\n", bytes.TrimRight(r.RequestBody, "\n"))
	}
	fmt.Fprintf(w, "< %s %s\n", r.Proto, r.StatusText)
	writeHeader(w, "< ", r.Header)
	fmt.Fprintln(w, "<")
	fmt.Fprintf(w, "* %d bytes in %s\n", len(r.Body), r.Elapsed.Round(time.Microsecond))
}

func writeHeader(w io.Writer, prefix string, h map[string][]string) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}
