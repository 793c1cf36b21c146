// Package listen opens the daemon's API listeners from its -H addresses:
// unix sockets, and tcp addresses with dockerd's TLS flags. It holds the
// rule that keeps the API from being reachable without authentication
// from another host: a tcp listener on a non-loopback address needs mutual
// TLS (--tlsverify), and plain or server-only TLS tcp is for the loopback
// interface alone. Everything is checked, TLS files included, before any
// listener is opened, so that a refused configuration changes nothing.
package listen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-connections/tlsconfig"
	"golang.org/x/sys/unix"
)

// Docker's ports for a tcp:// host given without one (IANA-registered for
// the Docker API): plain HTTP and TLS.
const (
	PortPlain = 2375
	PortTLS   = 2376
)

// MaxHosts bounds the -H addresses of one daemon.
const MaxHosts = 32

// TLS are the daemon's TLS flags, with dockerd's names and meaning. They
// apply to every tcp listener and to no unix one.
type TLS struct {
	// Enable serves tcp listeners over TLS with Cert and Key (--tls),
	// without asking clients for a certificate.
	Enable bool
	// Verify also requires a client certificate signed by CACert, and by
	// no other CA (--tlsverify). It implies Enable.
	Verify bool
	// CACert, Cert and Key are PEM files (--tlscacert, --tlscert,
	// --tlskey); the key must not be encrypted.
	CACert, Cert, Key string
}

// on reports whether tcp listeners speak TLS.
func (t TLS) on() bool { return t.Enable || t.Verify }

// Endpoint is one parsed -H address.
type Endpoint struct {
	Scheme string // "unix" or "tcp"
	Addr   string // the socket's path, or host:port ("" host: every interface)
}

func (e Endpoint) String() string { return e.Scheme + "://" + e.Addr }

// Loopback reports whether e is a tcp address on the loopback interface:
// an address of 127.0.0.0/8, ::1, or the name localhost. An empty host
// (every interface) is not one.
func (e Endpoint) Loopback() bool {
	if e.Scheme != "tcp" {
		return false
	}
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrInvalidHost is the kind of a -H value that is not an address.
var ErrInvalidHost = errors.New("invalid -H address")

// ParseHost parses one -H value: unix:///path, or tcp://host[:port]. A tcp
// address without a port gets docker's: PortTLS when tlsOn, else
// PortPlain. Port 0 asks the system for a free port (Listener.URL has the
// one bound).
func ParseHost(host string, tlsOn bool) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q: want unix:///path or tcp://host[:port]", ErrInvalidHost, host)
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return Endpoint{}, fmt.Errorf("%w %q: no socket path", ErrInvalidHost, host)
		}
		return Endpoint{Scheme: "unix", Addr: rest}, nil
	case "tcp":
		u, err := url.Parse(host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%w %q: %v", ErrInvalidHost, host, err)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return Endpoint{}, fmt.Errorf("%w %q: want tcp://host[:port], without user, path or query", ErrInvalidHost, host)
		}
		port := u.Port()
		if port == "" {
			if strings.HasSuffix(u.Host, ":") {
				return Endpoint{}, fmt.Errorf("%w %q: empty port", ErrInvalidHost, host)
			}
			port = strconv.Itoa(PortPlain)
			if tlsOn {
				port = strconv.Itoa(PortTLS)
			}
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return Endpoint{}, fmt.Errorf("%w %q: port %q is not a number from 0 to 65535", ErrInvalidHost, host, port)
		}
		return Endpoint{Scheme: "tcp", Addr: net.JoinHostPort(u.Hostname(), port)}, nil
	default:
		return Endpoint{}, fmt.Errorf("%w %q: scheme %q is not unix or tcp", ErrInvalidHost, host, scheme)
	}
}

// Config is a checked set of listeners, ready to open.
type Config struct {
	endpoints []Endpoint
	tls       *tls.Config // for tcp listeners; nil: plain HTTP
	verify    bool        // tls asks for client certificates
}

// New parses hosts, checks them against the rules (see the package
// comment) and loads the TLS files a tcp listener needs. It opens
// nothing. Its errors name the flag and the address at fault.
func New(hosts []string, t TLS) (*Config, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no -H address to listen on")
	}
	if len(hosts) > MaxHosts {
		return nil, fmt.Errorf("%d -H addresses: at most %d", len(hosts), MaxHosts)
	}
	c := &Config{verify: t.Verify}
	seen := map[Endpoint]bool{}
	var tcp []string
	for _, h := range hosts {
		e, err := ParseHost(h, t.on())
		if err != nil {
			return nil, err
		}
		if seen[e] {
			return nil, fmt.Errorf("-H %s is given twice", e)
		}
		seen[e] = true
		c.endpoints = append(c.endpoints, e)
		if e.Scheme != "tcp" {
			continue
		}
		tcp = append(tcp, e.String())
		if err := checkTCP(e, t); err != nil {
			return nil, err
		}
	}
	if len(tcp) > 0 && t.on() {
		cfg, err := serverConfig(t)
		if err != nil {
			return nil, fmt.Errorf("TLS for -H %s: %w", strings.Join(tcp, ", "), err)
		}
		c.tls = cfg
	}
	return c, nil
}

// checkTCP applies the rule to one tcp endpoint: off the loopback
// interface, only clients with a certificate of the daemon's CA get in.
// dockerd warns and sleeps on an unauthenticated remote listener;
// plugdbgd refuses it.
func checkTCP(e Endpoint, t TLS) error {
	if t.Verify || e.Loopback() {
		return nil
	}
	where := "a non-loopback address"
	if host, _, _ := net.SplitHostPort(e.Addr); host == "" {
		where = "an empty host (every interface)"
	}
	const need = "needs --tlsverify with --tlscacert, --tlscert and --tlskey (client certificates), as plugdbgd serves no unauthenticated remote API; plain tcp or --tls alone is for 127.0.0.1, ::1 or localhost only"
	if t.Enable {
		return fmt.Errorf("-H %s: --tls without --tlsverify authenticates no client, and %s %s", e, where, need)
	}
	return fmt.Errorf("-H %s: %s %s", e, where, need)
}

// serverConfig loads the TLS files into the tcp listeners' configuration,
// with go-connections' defaults (TLS 1.2 or later, its cipher suites), as
// dockerd does.
func serverConfig(t TLS) (*tls.Config, error) {
	type file struct{ flag, path, base string }
	files := []file{{"--tlscert", t.Cert, "cert.pem"}, {"--tlskey", t.Key, "key.pem"}}
	if t.Verify {
		files = append([]file{{"--tlscacert", t.CACert, "ca.pem"}}, files...)
	}
	for _, f := range files {
		if f.path == "" {
			return nil, fmt.Errorf("%s is needed and not set (nor is PLUGDBG_CERT_PATH, whose %s it defaults to)", f.flag, f.base)
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	o := tlsconfig.Options{CertFile: t.Cert, KeyFile: t.Key, MinVersion: tls.VersionTLS12}
	if t.Verify {
		o.CAFile = t.CACert
		o.ClientAuth = tls.RequireAndVerifyClientCert
		// Only the given CA signs client certificates, not the system's.
		o.ExclusiveRootPools = true
	}
	cfg, err := tlsconfig.Server(o)
	if err != nil {
		return nil, err
	}
	// HTTP/1.1 only: the API's hijacked streams (exec, attach-style
	// upgrades) need it, and dockerd offers no more on its tcp listeners.
	cfg.NextProtos = []string{"http/1.1"}
	return cfg, nil
}

// Listener is one open API listener.
type Listener struct {
	net.Listener
	// URL is its address as -H takes it, with the port bound for port 0.
	URL string
	// Security says how a tcp listener is protected; "" for a unix socket.
	Security string
}

// String is the listener as the daemon logs it.
func (l Listener) String() string {
	if l.Security == "" {
		return l.URL
	}
	return l.URL + " (" + l.Security + ")"
}

// Describe lists listeners for the daemon's start line.
func Describe(lns []Listener) string {
	s := make([]string, len(lns))
	for i, l := range lns {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// Open opens every listener, in the order of the -H flags, or none: if
// one fails, those already open are closed (their sockets removed) and
// the error says which address failed.
func (c *Config) Open() (lns []Listener, retErr error) {
	defer func() {
		if retErr != nil {
			for _, l := range lns {
				l.Close()
			}
			lns = nil
		}
	}()
	for _, e := range c.endpoints {
		l, err := c.open(e)
		if err != nil {
			return lns, err
		}
		lns = append(lns, l)
	}
	return lns, nil
}

func (c *Config) open(e Endpoint) (Listener, error) {
	if e.Scheme == "unix" {
		ln, err := Unix(e.Addr)
		if err != nil {
			return Listener{}, err
		}
		return Listener{Listener: ln, URL: e.String()}, nil
	}
	ln, err := net.Listen("tcp", e.Addr)
	if err != nil {
		return Listener{}, fmt.Errorf("listen on -H %s: %w", e, err)
	}
	l := Listener{Listener: ln, URL: "tcp://" + ln.Addr().String()}
	// A name such as localhost is resolved by the system: make sure what
	// was bound is what the rule allowed.
	if ip := ln.Addr().(*net.TCPAddr).IP; !c.verify && !ip.IsLoopback() {
		ln.Close()
		return Listener{}, fmt.Errorf("-H %s: bound %s, not a loopback address: a non-loopback address needs --tlsverify", e, ln.Addr())
	}
	switch {
	case c.tls == nil:
		l.Security = "plain HTTP, loopback only"
	case c.verify:
		l.Security = "TLS, client certificates required"
		l.Listener = tls.NewListener(ln, c.tls)
	default:
		l.Security = "TLS, no client authentication, loopback only"
		l.Listener = tls.NewListener(ln, c.tls)
	}
	return l, nil
}

// Unix opens the daemon socket at path with mode 0660, refusing to take
// over a socket another daemon still serves. Closing the listener removes
// the socket.
func Unix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another daemon is listening on %s", path)
	}
	_ = os.Remove(path)
	old := unix.Umask(0o117)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
