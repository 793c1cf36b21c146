package conformance

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugdbg/plugdbg/probe"
)

// RunOptions are what `plugdbg check` was asked.
type RunOptions struct {
	Args    []string // [PLUGIN]
	Socket  string
	URL     string
	Spec    string
	Resolve func(ctx context.Context, ref string) (probe.Target, error) // see probe.Options

	Interfaces []string // override Plugin.Activate
	JSON       bool     // the report as JSON on stdout
	JUnit      string   // also write a JUnit XML report to this file
	Strict     bool     // warnings fail the run too
	Timeout    time.Duration
}

// Failed is the error of a run whose report holds failures, or warnings
// under Strict.
type Failed struct {
	Target     string
	Fail, Warn int
	Strict     bool
}

func (e *Failed) Error() string {
	s := fmt.Sprintf("%s: %d failed, %d with warnings", e.Target, e.Fail, e.Warn)
	if e.Fail == 0 && e.Strict {
		s += " (--strict)"
	}
	return s
}

// Run runs Check on the target o names and writes the report.
func Run(ctx context.Context, o RunOptions, stdout io.Writer) error {
	po := probe.Options{Socket: o.Socket, URL: o.URL, Spec: o.Spec, Resolve: o.Resolve}
	target, rest, err := po.Target(ctx, o.Args)
	if err != nil {
		return err
	}
	if target == nil {
		return fmt.Errorf("%w: name a plugdbg plugin, or use --socket, --url or --spec", probe.ErrNoPlugin)
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	c := probe.NewClient(*target)
	defer c.Close()
	rep, err := Check(ctx, c, Options{Interfaces: o.Interfaces, Timeout: o.Timeout})
	if err != nil && len(rep.Results) == 0 {
		return err
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return werr
		}
	} else {
		rep.WriteText(stdout)
	}
	if o.JUnit != "" {
		if werr := rep.WriteJUnitFile(o.JUnit); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	if !rep.OK(o.Strict) {
		return &Failed{Target: rep.Target, Fail: rep.Fail, Warn: rep.Warn, Strict: o.Strict}
	}
	return nil
}

// WriteText writes one line per check, grouped by interface, and a total.
func (r *Report) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	iface := ""
	for _, res := range r.Results {
		if res.Interface != iface {
			if iface != "" {
				fmt.Fprintln(tw)
			}
			iface = res.Interface
			fmt.Fprintf(tw, "%s\n", iface)
		}
		d := ""
		if res.Duration > 0 {
			d = res.Duration.Round(time.Microsecond).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(res.Status)), res.Step, res.Method, d, res.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d passed, %d failed, %d warnings, %d skipped\n", r.Pass, r.Fail, r.Warn, r.Skip)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a testsuite per interface, a
// testcase per call; warnings are failures of type "warning".
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "plugdbg check " + r.Target}
	idx := map[string]int{}
	for _, res := range r.Results {
		i, ok := idx[res.Interface]
		if !ok {
			i = len(out.Suites)
			idx[res.Interface] = i
			out.Suites = append(out.Suites, junitSuite{Name: res.Interface})
		}
		s := &out.Suites[i]
		c := junitCase{
			Name: res.Step, Classname: res.Method,
			Time: fmt.Sprintf("%.6f", res.Duration.Seconds()),
		}
		switch res.Status {
		case Fail, Warn:
			typ := "failure"
			if res.Status == Warn {
				typ = "warning"
			}
			c.Failure = &junitMessage{Message: res.Reason, Type: typ, Text: res.Reason}
			s.Failures++
			out.Failures++
		case Skip:
			c.Skipped = &junitMessage{Message: res.Reason}
			s.Skipped++
			out.Skipped++
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, c)
	}
	for i := range out.Suites {
		var total time.Duration
		for _, res := range r.Results {
			if res.Interface == out.Suites[i].Name {
				total += res.Duration
			}
		}
		out.Suites[i].Time = fmt.Sprintf("%.6f", total.Seconds())
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteJUnitFile writes the JUnit report to path.
func (r *Report) WriteJUnitFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write JUnit report: %w", err)
	}
	if err := r.WriteJUnit(f); err != nil {
		f.Close()
		return fmt.Errorf("write JUnit report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write JUnit report %s: %w", path, err)
	}
	return nil
}
