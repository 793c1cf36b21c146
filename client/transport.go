package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Options say how to reach a daemon.
type Options struct {
	// Host is the daemon's address: unix:///path (or a bare path),
	// tcp://host:port, or ssh://[user@]host[:port][/path], which runs
	// `plugdbg dial-stdio` on host through the system ssh.
	Host string
	// TLS, for a tcp:// host, is the client's TLS configuration (its
	// certificate and the CA that signed the daemon's); nil is plain TCP,
	// which a daemon accepts only on a loopback address.
	TLS *tls.Config
	// SSHFlags are extra ssh options for an ssh:// host, from code or
	// configuration only (never from the URL): they are not quoted.
	SSHFlags []string
}

// dialer opens one new connection to the daemon's API.
type dialer func(ctx context.Context) (net.Conn, error)

// ErrInvalidHost is the kind of a host address that cannot be used.
var ErrInvalidHost = errors.New("invalid daemon host")

// parseHost returns the dialer for o.Host and the host as shown in
// messages.
func parseHost(o Options) (dialer, string, error) {
	host := o.Host
	if host == "" {
		return nil, "", fmt.Errorf("%w: empty", ErrInvalidHost)
	}
	if strings.HasPrefix(host, "/") {
		host = "unix://" + host
	}
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok {
		return nil, "", fmt.Errorf("%w %q: want unix:///path, tcp://host:port or ssh://[user@]host[:port][/path]", ErrInvalidHost, o.Host)
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return nil, "", fmt.Errorf("%w %q: no socket path", ErrInvalidHost, o.Host)
		}
		if o.TLS != nil {
			return nil, "", fmt.Errorf("%w %q: TLS is for tcp:// hosts only", ErrInvalidHost, o.Host)
		}
		return unixDialer(rest), host, nil
	case "tcp":
		u, err := url.Parse(host)
		if err != nil {
			return nil, "", fmt.Errorf("%w %q: %v", ErrInvalidHost, o.Host, err)
		}
		if u.Hostname() == "" || u.Port() == "" {
			return nil, "", fmt.Errorf("%w %q: want tcp://host:port", ErrInvalidHost, o.Host)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, "", fmt.Errorf("%w %q: want tcp://host:port, without user, path or query", ErrInvalidHost, o.Host)
		}
		return tcpDialer(u.Host, o.TLS), "tcp://" + u.Host, nil
	case "ssh":
		if o.TLS != nil {
			return nil, "", fmt.Errorf("%w %q: TLS is for tcp:// hosts only (ssh has its own)", ErrInvalidHost, o.Host)
		}
		d, err := sshDialer(host, o.SSHFlags)
		if err != nil {
			return nil, "", err
		}
		return d, host, nil
	default:
		return nil, "", fmt.Errorf("%w %q: scheme %q is not unix, tcp or ssh", ErrInvalidHost, o.Host, scheme)
	}
}

func unixDialer(path string) dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

func tcpDialer(addr string, cfg *tls.Config) dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil || cfg == nil {
			return conn, err
		}
		c := cfg.Clone()
		if c.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			c.ServerName = host
		}
		tc := tls.Client(conn, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}
