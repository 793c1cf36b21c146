// Package dockerd debugs the managed plugins of a real dockerd: it finds
// them through the Docker API, reaches their sockets under dockerd's plugin
// exec root, execs into their containers through the runc root dockerd
// uses for plugins, reads their output from dockerd's log, and lists the
// volumes and networks that hold them (reference doc §2.1, §3.4, §4).
package dockerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
)

// Defaults, for a dockerd with its default roots.
const (
	DefaultHost = "unix:///var/run/docker.sock"
	// DefaultPluginRoot is dockerd's plugin exec root, hard-coded on Linux:
	// <root>/<id>/<Interface.Socket> is each plugin's socket.
	DefaultPluginRoot = "/run/docker/plugins"
	// DefaultRuncRoot is <exec-root>/runtime-runc/<plugins namespace>.
	DefaultRuncRoot = "/var/run/docker/runtime-runc/plugins.moby"
	// Prefix marks a target as one of dockerd's plugins: "docker:NAME"
	// (the contract's constant, which the client uses too).
	Prefix = types.DockerPrefix
)

// ErrNotFound is a plugin dockerd does not have; its kind is NotFound.
var ErrNotFound = errkind.NotFound(errors.New("not found in dockerd"))

// Client is a minimal Docker Engine API client on a unix socket.
type Client struct {
	host string
	http *http.Client
}

// NewClient returns a client for host (unix:///path).
func NewClient(host string) (*Client, error) {
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return nil, fmt.Errorf("docker host %q: only unix:///path is supported", host)
	}
	return &Client{host: host, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}, nil
}

// APIError is an error answer of dockerd.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Unavailable gives every error answer of dockerd errdefs' kind of a
// relayed service that failed (errkind.Unavailable), which the API answers
// with 502; the plugin dockerd does not have is ErrNotFound instead.
func (*APIError) Unavailable() {}

// Get decodes the JSON answer of GET path into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("docker API at %s (is dockerd running?): %w", c.host, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("docker API GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: "dockerd: " + e.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("docker API GET %s: %w", path, err)
	}
	return nil
}

// Host is one dockerd: its API and the paths of its plugins.
type Host struct {
	API        *Client
	PluginRoot string // DefaultPluginRoot if ""
	RuncRoot   string // DefaultRuncRoot if ""
	// LogFile is dockerd's log (its stderr redirected); if "", the journal
	// of LogUnit is read with journalctl.
	LogFile string
	LogUnit string // "docker" if ""
}

func (h *Host) pluginRoot() string {
	if h.PluginRoot == "" {
		return DefaultPluginRoot
	}
	return h.PluginRoot
}

func (h *Host) runcRoot() string {
	if h.RuncRoot == "" {
		return DefaultRuncRoot
	}
	return h.RuncRoot
}

// Plugins lists dockerd's plugins.
func (h *Host) Plugins(ctx context.Context) ([]plugin.Plugin, error) {
	var out []plugin.Plugin
	if err := h.API.Get(ctx, "/plugins", nil, &out); err != nil {
		return nil, fmt.Errorf("list dockerd's plugins: %w", err)
	}
	return out, nil
}

// Plugin returns plugin ref (name, ID or ID prefix, as dockerd resolves
// it). A plugin dockerd does not have is an error wrapping ErrNotFound.
func (h *Host) Plugin(ctx context.Context, ref string) (plugin.Plugin, error) {
	var p plugin.Plugin
	err := h.API.Get(ctx, "/plugins/"+ref+"/json", nil, &p)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return p, fmt.Errorf("plugin %q %w (%s)", ref, ErrNotFound, ae.Message)
	}
	if err != nil {
		return p, fmt.Errorf("inspect dockerd's plugin %s: %w", ref, err)
	}
	return p, nil
}

// Socket is the host path of plugin p's socket.
func (h *Host) Socket(p plugin.Plugin) string {
	return filepath.Join(h.pluginRoot(), p.ID, p.Config.Interface.Socket)
}

// dockerTime parses the RFC 3339 times the Docker API gives.
func dockerTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return nil
	}
	return &t
}
