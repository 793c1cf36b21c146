// Package client talks to the plugdbg daemon over its unix socket, with the
// Docker Engine API's plugin endpoints.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/logs"
)

// Client is a daemon client. It is safe for concurrent use.
type Client struct {
	// Host is the daemon's address as messages show it
	// (unix:///run/plugdbg/plugdbg.sock, tcp://…, ssh://…).
	Host string
	// Socket is the daemon's unix socket path for a unix:// host, ""
	// for a remote one.
	Socket string
	dial   dialer
	err    error // an unusable host: every call returns it
	http   *http.Client
}

// New returns a client for host, "unix:///path", a bare path,
// "tcp://host:port" (plain TCP) or "ssh://[user@]host[:port][/path]". A
// host that cannot be used makes every call fail with the reason.
func New(host string) *Client {
	c, err := NewWithOptions(Options{Host: host})
	if err != nil {
		return &Client{Host: host, err: err, http: &http.Client{}}
	}
	return c
}

// NewWithOptions returns a client for o.Host, with TLS for a tcp:// one.
func NewWithOptions(o Options) (*Client, error) {
	dial, shown, err := parseHost(o)
	if err != nil {
		return nil, err
	}
	c := &Client{Host: shown, dial: dial}
	if s, ok := strings.CutPrefix(shown, "unix://"); ok {
		c.Socket = s
	}
	var tr http.RoundTripper = connTransport{dial}
	if c.Socket == "" {
		tr = c.pooledTransport()
	}
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// pooledTransport is net/http's Transport over the client's dialer, which
// keeps connections for reuse.
func (c *Client) pooledTransport() *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		conn, err := c.dial(ctx)
		if err != nil {
			// Marked, so that send tells "no daemon" from "the daemon
			// went away while answering".
			return nil, dialError{err}
		}
		return conn, nil
	}}
}

// Dial opens a new connection to the daemon's API, over whatever the
// host's transport is: for a stream that takes the connection over (exec)
// or is relayed as is (plugdbg dial-stdio, plugdbg ui).
func (c *Client) Dial(ctx context.Context) (net.Conn, error) {
	if c.err != nil {
		return nil, c.err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, c.requestError(ctx, "", "", dialError{err})
	}
	return conn, nil
}

// Transport is the HTTP transport to the daemon, for a caller that relays
// requests (plugdbg ui): its requests' URL host does not matter. It is
// net/http's, which reuses connections and relays upgrades, whatever the
// host.
func (c *Client) Transport() http.RoundTripper {
	if c.err != nil {
		return errTransport{c.err}
	}
	if tr, ok := c.http.Transport.(*http.Transport); ok {
		return tr
	}
	return c.pooledTransport()
}

type errTransport struct{ err error }

func (t errTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }

// Error is an error answer of the daemon. Its kind is its status's in
// errkind's table, the one the daemon answered from: errdefs.IsNotFound,
// errdefs.IsConflict, errdefs.IsInvalidArgument, … classify it.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap is the kind of the daemon's answer (nil for a status no kind has).
func (e *Error) Unwrap() error { return errkind.FromHTTPStatus(e.Status) }

// IsNotFound reports whether err is a daemon's "not found".
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// DaemonError is a failure to reach the daemon at all.
type DaemonError struct {
	Host string // as Client.Host
	Err  error
}

func (e *DaemonError) Error() string {
	var se *SSHError
	if errors.As(e.Err, &se) {
		return fmt.Sprintf("cannot connect to the plugdbg daemon at %s: %v", e.Host, e.Err)
	}
	hint := "is plugdbgd running there, and does it listen on tcp with this TLS setup?"
	if strings.HasPrefix(e.Host, "unix://") {
		hint = "is plugdbgd running, and are you root or in the socket's group?"
	}
	return fmt.Sprintf("cannot connect to the plugdbg daemon at %s: %v (%s)", e.Host, e.Err, hint)
}

func (e *DaemonError) Unwrap() error { return e.Err }

// dialError is a failure to connect to the daemon's socket, as the
// transport's dialer returns it.
type dialError struct{ err error }

func (e dialError) Error() string { return e.err.Error() }
func (e dialError) Unwrap() error { return e.err }

// ConnError is a connection to the daemon that broke after the request
// went out: the daemon was reached, but died, restarted or closed the
// connection before its answer was complete. Whether the request took
// effect is unknown.
type ConnError struct {
	Method string
	Path   string // without the query
	Err    error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("the connection to the daemon broke during %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// requestError classifies err, from sending a request to the daemon or
// reading its answer: the context's end, a dial failure (*DaemonError) or a
// connection that broke (*ConnError).
func (c *Client) requestError(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = unwrapURL(err)
	var de dialError
	if errors.As(err, &de) {
		return &DaemonError{Host: c.Host, Err: de.err}
	}
	// Over ssh the dial is only the start of a process: whether it
	// reached the daemon shows when the first answer should come.
	var se *SSHError
	if errors.As(err, &se) {
		return &DaemonError{Host: c.Host, Err: se}
	}
	// The transport's own "connection broken" would say it twice.
	if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "net/http: HTTP/1.x transport connection broken: ") {
		err = inner
	}
	return &ConnError{Method: method, Path: path, Err: err}
}

// send makes one request and checks the status; the caller closes the body.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body io.Reader, ctype string) (*http.Response, error) {
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return c.sendHeader(ctx, method, path, query, body, h)
}

// sendHeader is send with request headers.
func (c *Client) sendHeader(ctx context.Context, method, path string, query url.Values, body io.Reader, header http.Header) (*http.Response, error) {
	u := "http://plugdbg" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	if c.err != nil {
		return nil, c.err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.requestError(ctx, method, path, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return nil, &Error{Status: resp.StatusCode, Message: e.Message}
	}
	return resp, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	resp, err := c.send(ctx, method, path, query, body, ctype)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return fmt.Errorf("decode daemon answer to %s %s: %w", method, path, err)
		}
		// The answer was cut off, not malformed.
		return c.requestError(ctx, method, path, err)
	}
	return nil
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (types.Version, error) {
	var v types.Version
	return v, c.do(ctx, http.MethodGet, "/version", nil, nil, &v)
}

// ListOptions filter List.
type ListOptions struct {
	Enabled    *bool
	Capability []string
	Docker     bool // list the plugins of the daemon's dockerd instead
}

// List returns the plugins the filters select.
func (c *Client) List(ctx context.Context, o ListOptions) ([]types.Inspect, error) {
	f := map[string]map[string]bool{}
	if o.Enabled != nil {
		f["enabled"] = map[string]bool{strconv.FormatBool(*o.Enabled): true}
	}
	for _, cp := range o.Capability {
		if f["capability"] == nil {
			f["capability"] = map[string]bool{}
		}
		f["capability"][cp] = true
	}
	q := url.Values{}
	if len(f) > 0 {
		b, _ := json.Marshal(f)
		q.Set("filters", string(b))
	}
	if o.Docker {
		q.Set("docker", "1")
	}
	var out []types.Inspect
	return out, c.do(ctx, http.MethodGet, "/plugins", q, nil, &out)
}

// Inspect returns one plugin by name, ID or unique ID prefix.
func (c *Client) Inspect(ctx context.Context, ref string) (types.Inspect, error) {
	var out types.Inspect
	return out, c.do(ctx, http.MethodGet, "/plugins/"+ref+"/json", nil, nil, &out)
}

// Create sends a plugin build context (a tar of config.json and rootfs/).
func (c *Client) Create(ctx context.Context, name string, buildContext io.Reader) error {
	resp, err := c.send(ctx, http.MethodPost, "/plugins/create", url.Values{"name": {name}}, buildContext, "application/x-tar")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Enable starts a plugin and waits up to timeout for it to be ready.
func (c *Client) Enable(ctx context.Context, ref string, timeout time.Duration) error {
	return c.EnableProgress(ctx, ref, timeout, nil)
}

// EnableProgress is Enable that, when d shows on a terminal, has the
// daemon say what it waits for ("waiting for Plugin.Activate on SOCKET
// (timeout 30s)") and shows it on d. Elsewhere (a script's output, d nil)
// it asks for nothing more than Docker's API answers: 200 and no body.
func (c *Client) EnableProgress(ctx context.Context, ref string, timeout time.Duration, d *Display) error {
	q := url.Values{"timeout": {strconv.Itoa(int(timeout.Seconds()))}}
	if d == nil || !d.TTY {
		return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/enable", q, nil, nil)
	}
	q.Set("progress", "1")
	resp, err := c.send(ctx, http.MethodPost, "/plugins/"+ref+"/enable", q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// A daemon that does not stream answers an empty body: nothing shown.
	_, err = d.Show(resp.Body)
	return err
}

// Disable stops a plugin; force skips the grace period.
func (c *Client) Disable(ctx context.Context, ref string, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}}
	return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/disable", q, nil, nil)
}

// Remove deletes a plugin; force also removes an enabled one.
func (c *Client) Remove(ctx context.Context, ref string, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}}
	return c.do(ctx, http.MethodDelete, "/plugins/"+ref, q, nil, nil)
}

// Set changes settings (KEY=VALUE) of a disabled plugin.
func (c *Client) Set(ctx context.Context, ref string, args []string) error {
	return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/set", nil, args, nil)
}

// SetLogOpts changes the rotation of a plugin's output history, enabled
// or not: opts are KEY=VALUE as --log-opt takes them (max-size, max-file).
func (c *Client) SetLogOpts(ctx context.Context, ref string, opts []string) error {
	m, err := logs.SplitOpts(opts)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/log-opts", nil, m, nil)
}
