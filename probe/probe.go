// Package probe speaks the Docker plugin RPC protocol to a plugin's socket:
// HTTP/1.1 POSTs of JSON to /<Interface>.<Method>, as dockerd sends them.
package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/internal/oneconn"
)

// Accept is the media type dockerd sends with every plugin call.
const Accept = "application/vnd.docker.plugins.v1.2+json"

// DefaultMaxResponse bounds the answers Client reads.
const DefaultMaxResponse = 16 << 20

// unixHost is the Host header dockerd (v25+) sends to unix-socket plugins.
const unixHost = "plugin.moby.localhost"

// Client calls one plugin. It keeps connections alive between calls and is
// safe for concurrent use.
type Client struct {
	target Target
	base   string // scheme://host
	http   *http.Client
	dial   func(ctx context.Context) (net.Conn, error) // one new connection to a unix target (Once), or Target.Dial
	// MaxResponse bounds the size of an answer; a larger one is an error.
	MaxResponse int64
}

// New returns a client for the plugin listening on the unix socket path.
func New(socket string) *Client { return NewClient(Target{Network: "unix", Addr: socket}) }

// NewClient returns a client for t, with the transport settings dockerd's
// plugin client uses: at most 6 idle connections kept for 30 s, a 10 s
// dial timeout, no compression on unix sockets. Its connections are
// t.Dial's if t has one, each kept alive as a direct one is.
func NewClient(t Target) *Client {
	tr := &http.Transport{
		MaxIdleConns:        6,
		MaxIdleConnsPerHost: 6,
		IdleConnTimeout:     30 * time.Second,
		TLSClientConfig:     t.TLS,
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dial := t.Dial
	if dial == nil && t.Network == "unix" {
		dial = func(ctx context.Context) (net.Conn, error) { return dialer.DialContext(ctx, "unix", t.Addr) }
	}
	tr.DialContext = dialer.DialContext // tcp: the address the URL names, with https' port 443 implied
	if dial != nil {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
	}
	base := "http://" + t.Addr
	switch {
	case t.Network == "unix":
		tr.DisableCompression = true
		base = "http://" + unixHost
	case t.TLS != nil:
		base = "https://" + t.Addr
	}
	return &Client{target: t, base: base, http: &http.Client{Transport: tr}, dial: dial, MaxResponse: DefaultMaxResponse}
}

// Target returns where c sends its calls.
func (c *Client) Target() Target { return c.target }

// StatusError is a non-200 answer.
type StatusError struct {
	Method string // e.g. "Plugin.Activate"
	Status int
	Msg    string // the Err field, or the raw body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Method, truncate([]byte(e.Msg), 200), e.Status)
}

// TransportError is a call that got no complete HTTP answer: the socket is
// missing or refuses, the connection broke, the answer is not HTTP or is
// larger than the client's MaxResponse.
type TransportError struct {
	Method string
	Err    error
}

func (e *TransportError) Error() string { return e.Method + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a 404 answer: the plugin does not
// implement the method.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// Response is one complete exchange, as sent and as answered.
type Response struct {
	Method      string
	URL         string
	request     *http.Request // as sent, for RequestHead
	gzip        bool          // net/http asked for gzip (not on unix sockets)
	RequestBody []byte
	Proto       string
	Status      int
	StatusText  string // "200 OK"
	Header      http.Header
	Body        []byte
	Elapsed     time.Duration // from sending the request to the last byte of the answer
}

// Do POSTs body to /method exactly as dockerd does: Accept set to the
// plugin media type, no Content-Type, a Content-Length, and no body at all
// when body is nil. Any complete HTTP answer is returned, whatever its
// status; the error is a *TransportError.
func (c *Client) Do(ctx context.Context, method string, body []byte) (*Response, error) {
	return c.exchange(ctx, method, body, c.http.Do)
}

// Once is Do for a process that makes a single call: on a unix socket
// (also one reached through Target.Dial) it dials, writes the request and
// reads the answer itself, then closes the connection. The keep-alive Transport's dial, read and write goroutines
// wake new OS threads, which cost a short-lived process more than the call
// does. The request bytes are the Transport's own (Request.Write, with
// compression off as Do has it on unix sockets). Other targets go through
// Do, which negotiates gzip and TLS.
func (c *Client) Once(ctx context.Context, method string, body []byte) (*Response, error) {
	if c.target.Network != "unix" {
		return c.Do(ctx, method, body)
	}
	return c.exchange(ctx, method, body, c.sendOnce)
}

// exchange makes the request for method and body, has send deliver it, and
// reads the whole answer.
func (c *Client) exchange(ctx context.Context, method string, body []byte, send func(*http.Request) (*http.Response, error)) (*Response, error) {
	req, err := c.newRequest(ctx, method, body)
	if err != nil {
		return nil, err
	}
	url := req.URL.String()
	start := time.Now()
	resp, err := send(req)
	if err != nil {
		return nil, &TransportError{Method: method, Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	data, err := c.readAnswer(resp)
	elapsed := time.Since(start)
	if err != nil {
		return nil, &TransportError{Method: method, Err: err}
	}
	return &Response{
		Method: method, URL: url, request: req, gzip: c.target.Network != "unix", RequestBody: body,
		Proto: resp.Proto, Status: resp.StatusCode, StatusText: resp.Status,
		Header: resp.Header, Body: data, Elapsed: elapsed,
	}, nil
}

// newRequest is the request for method with body, as dockerd makes it
// (see Do); its error is a *TransportError.
func (c *Client) newRequest(ctx context.Context, method string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+strings.TrimPrefix(method, "/"), rd)
	if err != nil {
		return nil, &TransportError{Method: method, Err: err}
	}
	req.Header.Set("Accept", Accept)
	return req, nil
}

// readAnswer reads resp's whole body, which must be at most c.MaxResponse
// bytes.
func (c *Client) readAnswer(resp *http.Response) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if int64(len(data)) > c.MaxResponse {
		return nil, fmt.Errorf("answer is larger than %d bytes (HTTP %s, Content-Length %d)", c.MaxResponse, resp.Status, resp.ContentLength)
	}
	return data, nil
}

// sendOnce delivers req on a connection of its own to the unix socket
// (package oneconn). The answer's Body closes the connection; the context
// bounds every step, as it does in the Transport.
func (c *Client) sendOnce(req *http.Request) (*http.Response, error) {
	conn, err := c.dial(req.Context())
	if err != nil {
		return nil, err
	}
	return oneconn.RoundTrip(conn, req)
}

// RequestHead is the head of the request as it was sent, with the fields
// net/http adds (Host, Content-Length, User-Agent, Accept-Encoding). It is
// made on demand: --repeat makes thousands of calls and shows none.
func (r *Response) RequestHead() http.Header {
	head := r.request.Header.Clone()
	head.Set("Host", r.request.URL.Host)
	head.Set("Content-Length", strconv.Itoa(len(r.RequestBody)))
	if r.gzip {
		head.Set("Accept-Encoding", "gzip")
	}
	head.Set("User-Agent", "Go-http-client/1.1")
	return head
}

func unwrapURL(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Err returns the error dockerd makes of a non-200 answer (a *StatusError
// with the answer's Err field, or its body), or nil for a 200.
func (r *Response) Err() error {
	if r.Status == http.StatusOK {
		return nil
	}
	msg := strings.TrimSpace(string(r.Body))
	var e struct{ Err string }
	if json.Unmarshal(r.Body, &e) == nil && e.Err != "" {
		msg = e.Err
	}
	return &StatusError{Method: r.Method, Status: r.Status, Msg: msg}
}

// Call POSTs args (no body when nil, as dockerd does) to /method and decodes
// a 200 answer into ret.
func (c *Client) Call(ctx context.Context, method string, args, ret any) error {
	var body []byte
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", method, err)
		}
		body = append(b, '\n')
	}
	r, err := c.Do(ctx, method, body)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return err
	}
	if ret == nil {
		return nil
	}
	if err := json.Unmarshal(r.Body, ret); err != nil {
		return fmt.Errorf("%s: decode answer %q: %w", method, truncate(r.Body, 200), err)
	}
	return nil
}

// Manifest is the answer to Plugin.Activate.
type Manifest struct {
	Implements []string
}

// Activate calls Plugin.Activate.
func (c *Client) Activate(ctx context.Context) (Manifest, error) {
	var m Manifest
	err := c.Call(ctx, "Plugin.Activate", nil, &m)
	return m, err
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
