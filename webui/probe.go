package webui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/probe"
)

// probeTimeout bounds one probe call from the page.
var probeTimeout = 30 * time.Second

// catalogIface is an interface of the probe catalog, as the page's method
// picker shows it.
type catalogIface struct {
	Name    string          `json:"name"`
	Type    string          `json:"type,omitempty"` // config.json interface type
	Doc     string          `json:"doc,omitempty"`
	Methods []catalogMethod `json:"methods"`
}

type catalogMethod struct {
	Name      string `json:"name"`
	Doc       string `json:"doc,omitempty"`
	EmptyBody bool   `json:"emptyBody,omitempty"`
	Example   string `json:"example,omitempty"` // request body
	Answer    string `json:"answer,omitempty"`  // example answer
}

func catalogView() []catalogIface {
	var out []catalogIface
	for _, i := range probe.Catalog() {
		ci := catalogIface{Name: i.Name, Type: i.Type, Doc: i.Doc}
		for _, m := range i.Methods {
			ci.Methods = append(ci.Methods, catalogMethod{
				Name: m.Name, Doc: m.Doc, EmptyBody: m.EmptyBody(),
				Example: m.ExampleRequest, Answer: m.ExampleResponse,
			})
		}
		out = append(out, ci)
	}
	return out
}

// probeMsg is the answer to a probe request.
type probeMsg struct {
	Type       string   `json:"type"` // "probe"
	ID         string   `json:"id"`
	Method     string   `json:"method"`
	Status     int      `json:"status,omitempty"`
	StatusText string   `json:"statusText,omitempty"`
	Body       string   `json:"body,omitempty"`
	LatencyNs  int64    `json:"latencyNs,omitempty"`
	Request    []string `json:"requestWarnings,omitempty"` // the request departs from the schema
	Warnings   []string `json:"warnings,omitempty"`        // the answer departs from what dockerd expects
	PluginErr  string   `json:"pluginError,omitempty"`     // a 200 with Err (Error for IPAM) set
	Known      bool     `json:"known"`                     // whether the catalog knows the method
	Error      string   `json:"error,omitempty"`           // no answer: why
}

// probe calls a method of an enabled plugin on its socket, as `plugdbg
// probe` does, and answers with the response, its latency and what the
// catalog's validation says of it.
func (c *conn) probe(m inMsg) {
	res := probeMsg{Type: "probe", ID: m.ID, Method: m.Method}
	defer func() { c.sendMust(res) }()
	if m.Method == "" || strings.ContainsAny(m.Method, "/?# ") {
		res.Error = fmt.Sprintf("invalid method %q: want Interface.Method", m.Method)
		return
	}
	p, err := c.s.o.Backend.Inspect(m.Plugin)
	if err != nil {
		res.Error = err.Error()
		return
	}
	if !p.Enabled || p.State.Socket == "" {
		res.Error = fmt.Sprintf("plugin %s is not enabled, so it has no socket", p.Name)
		return
	}
	var body []byte
	meth, known := probe.Lookup(m.Method)
	res.Known = known
	if m.Body != nil && strings.TrimSpace(*m.Body) != "" {
		body = []byte(*m.Body)
	} else if m.Body != nil && known && !meth.EmptyBody() {
		body = []byte("{}")
	}
	if known && body != nil {
		for _, pr := range probe.ValidateRequest(meth, body) {
			res.Request = append(res.Request, pr.String())
		}
	}
	cl := probe.New(p.State.Socket)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.ctx, probeTimeout)
	defer cancel()
	r, err := cl.Do(ctx, m.Method, body)
	if err != nil {
		var te *probe.TransportError
		if errors.As(err, &te) {
			res.Error = te.Err.Error()
		} else {
			res.Error = err.Error()
		}
		return
	}
	res.Status, res.StatusText, res.Body, res.LatencyNs = r.Status, r.StatusText, string(r.Body), int64(r.Elapsed)
	if known && r.Status == 200 {
		for _, pr := range probe.Validate(meth, r.Body) {
			res.Warnings = append(res.Warnings, pr.String())
		}
		res.PluginErr = meth.PluginErr(r.Body)
	}
}
