package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Target is where a plugin listens.
type Target struct {
	Network string      // "unix" or "tcp"
	Addr    string      // socket path, or host:port
	TLS     *tls.Config // non-nil: https
	// Dial, if set, opens each connection instead of a dial of Network
	// and Addr, which then only say what is at the far end: a tunnel to a
	// socket on another machine, through the daemon there. The package
	// knows nothing of how; the caller wires it.
	Dial func(ctx context.Context) (net.Conn, error)
	// Via names, for messages, what Dial goes through ("ssh://host").
	Via string
}

func (t Target) String() string {
	s := "tcp://" + t.Addr
	switch {
	case t.Network == "unix":
		s = "unix://" + t.Addr
	case t.TLS != nil:
		s = "https://" + t.Addr
	}
	if t.Via != "" {
		s += " via " + t.Via
	}
	return s
}

// ParseURL reads a plugin address as spec files write it: unix:///path,
// tcp://host:port, http://host:port or https://host:port. As in dockerd, a
// path after the host is ignored, and https is not verified.
func ParseURL(s string) (Target, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return Target{}, fmt.Errorf("plugin address %q: %w", s, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return Target{}, fmt.Errorf("plugin address %q: no socket path", s)
		}
		return Target{Network: "unix", Addr: u.Path}, nil
	case "tcp", "http":
		if u.Host == "" {
			return Target{}, fmt.Errorf("plugin address %q: no host:port", s)
		}
		return Target{Network: "tcp", Addr: u.Host}, nil
	case "https":
		if u.Host == "" {
			return Target{}, fmt.Errorf("plugin address %q: no host:port", s)
		}
		return Target{Network: "tcp", Addr: u.Host, TLS: &tls.Config{InsecureSkipVerify: true}}, nil //nolint:gosec // as dockerd does for .spec files
	case "":
		return Target{}, fmt.Errorf("plugin address %q: unknown protocol (want unix://, tcp:// or https://)", s)
	}
	return Target{}, fmt.Errorf("plugin address %q: unsupported protocol %q", s, u.Scheme)
}

// ReadSpec reads a legacy plugin spec file: a .spec file holds one address,
// a .json file {"Addr": ..., "TLSConfig": {"CAFile", "CertFile", "KeyFile",
// "InsecureSkipVerify"}}. TLS follows dockerd's rules: a TLSConfig without a
// CAFile is not verified.
func ReadSpec(path string) (Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Target{}, fmt.Errorf("read spec file: %w", err)
	}
	if filepath.Ext(path) != ".json" {
		t, err := ParseURL(string(data))
		if err != nil {
			return Target{}, fmt.Errorf("spec file %s: %w", path, err)
		}
		return t, nil
	}
	var spec struct {
		Addr      string
		TLSConfig *struct {
			CAFile, CertFile, KeyFile string
			InsecureSkipVerify        bool
		}
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return Target{}, fmt.Errorf("spec file %s: %w", path, err)
	}
	if spec.Addr == "" {
		return Target{}, fmt.Errorf("spec file %s: no Addr", path)
	}
	t, err := ParseURL(spec.Addr)
	if err != nil {
		return Target{}, fmt.Errorf("spec file %s: %w", path, err)
	}
	if spec.TLSConfig != nil && t.Network == "tcp" && t.TLS != nil {
		c := spec.TLSConfig
		cfg := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify || c.CAFile == ""} //nolint:gosec // dockerd's rule
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return Target{}, fmt.Errorf("spec file %s: CA file: %w", path, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return Target{}, fmt.Errorf("spec file %s: CA file %s holds no PEM certificate", path, c.CAFile)
			}
		}
		if c.CertFile != "" || c.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return Target{}, fmt.Errorf("spec file %s: client certificate: %w", path, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		t.TLS = cfg
	}
	return t, nil
}
