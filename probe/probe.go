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
	"strings"
	"time"
)

// Accept is the media type dockerd sends with every plugin call.
const Accept = "application/vnd.docker.plugins.v1.2+json"

// Client calls one plugin over its unix socket. It is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// New returns a client for the plugin listening on socket.
func New(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
		MaxIdleConns:       6,
		IdleConnTimeout:    30 * time.Second,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// StatusError is a non-200 answer.
type StatusError struct {
	Method string // e.g. "Plugin.Activate"
	Status int
	Msg    string // the Err field, or the raw body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Method, e.Msg, e.Status)
}

// IsNotFound reports whether err is a 404 answer: the plugin does not
// implement the method.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// Call POSTs args (no body when nil, as dockerd does) to /method and decodes
// a 200 answer into ret.
func (c *Client) Call(ctx context.Context, method string, args, ret any) error {
	var body io.Reader
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", method, err)
		}
		body = bytes.NewReader(append(b, '\n'))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugin.moby.localhost/"+method, body)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Accept", Accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(data))
		var e struct{ Err string }
		if json.Unmarshal(data, &e) == nil && e.Err != "" {
			msg = e.Err
		}
		return &StatusError{Method: method, Status: resp.StatusCode, Msg: msg}
	}
	if ret == nil {
		return nil
	}
	if err := json.Unmarshal(data, ret); err != nil {
		return fmt.Errorf("%s: decode answer %q: %w", method, truncate(data, 200), err)
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
