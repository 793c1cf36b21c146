package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/plugdbg/plugdbg/api/types"
)

// ConnectUpgrade is the Upgrade token of a tunnel to a plugin's socket
// (POST /plugins/{name}/connect).
const ConnectUpgrade = types.ConnectUpgrade

// PluginSocket returns the host path of an enabled plugin's socket, for
// probing it directly.
func (c *Client) PluginSocket(ctx context.Context, ref string) (string, error) {
	p, err := c.enabledPlugin(ctx, ref)
	if err != nil {
		return "", err
	}
	return p.State.Socket, nil
}

// enabledPlugin inspects ref and refuses a plugin without a socket to call.
func (c *Client) enabledPlugin(ctx context.Context, ref string) (types.Inspect, error) {
	p, err := c.Inspect(ctx, ref)
	if err != nil {
		return p, err
	}
	if !p.Enabled {
		return p, fmt.Errorf("plugin %s is not enabled (plugdbg enable %s), so it has no socket", p.Name, p.Name)
	}
	if p.State.Socket == "" {
		return p, fmt.Errorf("plugin %s: the daemon reports no socket", p.Name)
	}
	return p, nil
}

// PluginEndpoint is how to reach an enabled plugin's socket from here.
type PluginEndpoint struct {
	// Socket is the socket's path on the daemon's machine.
	Socket string
	// Dial is nil when Socket can be dialled from here: the daemon is on
	// a unix socket and the path is there. Otherwise each call opens a new
	// tunnel to the socket through the daemon (DialPlugin).
	Dial func(ctx context.Context) (net.Conn, error)
	// Via is the daemon's host when Dial is set, for messages.
	Via string
}

// PluginEndpoint returns how to reach plugin ref's socket. A daemon on a
// local unix socket has its plugins' sockets on this machine, and dialing
// them is faster than a tunnel; a tcp:// or ssh:// daemon's, or a path
// that is not here (a client in a container that shares only the
// daemon's socket, a plugin directory closed to this user), is reached
// through the daemon.
func (c *Client) PluginEndpoint(ctx context.Context, ref string) (PluginEndpoint, error) {
	if c.Socket == "" {
		return c.remotePluginEndpoint(ctx, ref)
	}
	p, err := c.enabledPlugin(ctx, ref)
	if err != nil {
		return PluginEndpoint{}, err
	}
	ep := PluginEndpoint{Socket: p.State.Socket}
	if isSocket(p.State.Socket) {
		return ep, nil
	}
	// By ID: the name could be given to another plugin meanwhile.
	id := p.ID
	if strings.HasPrefix(ref, types.DockerPrefix) {
		id = types.DockerPrefix + p.ID
	}
	ep.Dial = func(ctx context.Context) (net.Conn, error) { return c.DialPlugin(ctx, id) }
	ep.Via = c.Host
	return ep, nil
}

// remotePluginEndpoint opens the first tunnel at once, by ref, instead of
// asking which plugin ref is first: over ssh each connection is a login,
// and the tunnel's answer names the plugin and its socket anyway. The
// first Dial gets that tunnel; later ones go to the plugin's ID.
func (c *Client) remotePluginEndpoint(ctx context.Context, ref string) (PluginEndpoint, error) {
	conn, head, err := c.dialPlugin(ctx, ref)
	if err != nil {
		return PluginEndpoint{}, err
	}
	id, err1 := url.PathUnescape(head.Get(types.ConnectPluginHeader))
	sock, err2 := url.PathUnescape(head.Get(types.ConnectSocketHeader))
	if id == "" || err1 != nil || err2 != nil {
		// A daemon that does not say (older): the name as given.
		id = ref
	}
	var mu sync.Mutex
	first := conn
	return PluginEndpoint{
		Socket: sock,
		Via:    c.Host,
		Dial: func(ctx context.Context) (net.Conn, error) {
			mu.Lock()
			conn := first
			first = nil
			mu.Unlock()
			if conn != nil {
				return conn, nil
			}
			return c.DialPlugin(ctx, id)
		},
	}, nil
}

// isSocket reports whether path is a unix socket this process can see.
func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// DialPlugin opens a tunnel to enabled plugin ref's socket through the
// daemon, over the host's transport: a connection on which the plugin
// protocol is spoken as on the socket itself. Closing its write side
// (CloseWrite) reaches the plugin as the end of its input. An unknown or
// disabled plugin, or a socket that does not answer, is an *Error from
// the daemon.
func (c *Client) DialPlugin(ctx context.Context, ref string) (net.Conn, error) {
	conn, _, err := c.dialPlugin(ctx, ref)
	return conn, err
}

// dialPlugin is DialPlugin, with the head of the daemon's 101 answer.
func (c *Client) dialPlugin(ctx context.Context, ref string) (net.Conn, http.Header, error) {
	conn, err := c.Dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	path := "/plugins/" + ref + "/connect"
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (net.Conn, http.Header, error) {
		stop()
		conn.Close()
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugdbg"+path, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", ConnectUpgrade)
	if err := req.Write(conn); err != nil {
		return fail(c.requestError(ctx, http.MethodPost, path, err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(c.requestError(ctx, http.MethodPost, path, err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return fail(&Error{Status: resp.StatusCode, Message: e.Message})
	}
	if !stop() {
		conn.Close()
		return nil, nil, ctx.Err()
	}
	if br.Buffered() == 0 {
		return conn, resp.Header, nil
	}
	// The plugin spoke first, and its bytes came with the answer.
	return &bufferedConn{Conn: conn, r: br}, resp.Header, nil
}

// bufferedConn is a connection whose first bytes were read ahead.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection, if its kind can.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("a %T cannot half-close", c.Conn)
}
