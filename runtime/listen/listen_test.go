package listen_test

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testcerts"
	"github.com/plugdbg/plugdbg/runtime/listen"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		name, host string
		tls        bool
		want       string // Endpoint.String()
		err        string
	}{
		{name: "unix", host: "unix:///run/plugdbg/plugdbg.sock", want: "unix:///run/plugdbg/plugdbg.sock"},
		{name: "tcp", host: "tcp://127.0.0.1:4000", want: "tcp://127.0.0.1:4000"},
		{name: "tcp trailing slash", host: "tcp://127.0.0.1:4000/", want: "tcp://127.0.0.1:4000"},
		{name: "tcp ipv6", host: "tcp://[::1]:4000", want: "tcp://[::1]:4000"},
		{name: "plain default port", host: "tcp://127.0.0.1", want: "tcp://127.0.0.1:2375"},
		{name: "TLS default port", host: "tcp://127.0.0.1", tls: true, want: "tcp://127.0.0.1:2376"},
		{name: "ipv6 default port", host: "tcp://[::1]", tls: true, want: "tcp://[::1]:2376"},
		{name: "every interface", host: "tcp://:2376", want: "tcp://:2376"},
		{name: "port 0", host: "tcp://localhost:0", want: "tcp://localhost:0"},
		{name: "no scheme", host: "/run/plugdbg/plugdbg.sock", err: `invalid -H address "/run/plugdbg/plugdbg.sock": want unix:///path or tcp://host[:port]`},
		{name: "ssh", host: "ssh://me@host", err: `scheme "ssh" is not unix or tcp`},
		{name: "fd", host: "fd://", err: `scheme "fd" is not unix or tcp`},
		{name: "unix without path", host: "unix://", err: "no socket path"},
		{name: "tcp path", host: "tcp://127.0.0.1:4000/api", err: "without user, path or query"},
		{name: "tcp user", host: "tcp://me@127.0.0.1:4000", err: "without user, path or query"},
		{name: "tcp query", host: "tcp://127.0.0.1:4000?x=1", err: "without user, path or query"},
		{name: "empty port", host: "tcp://127.0.0.1:", err: "empty port"},
		{name: "port too big", host: "tcp://127.0.0.1:65536", err: `port "65536" is not a number from 0 to 65535`},
		{name: "port not a number", host: "tcp://127.0.0.1:http", err: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := listen.ParseHost(tt.host, tt.tls)
			if tt.err != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, listen.ErrInvalidHost)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.String())
		})
	}
}

func TestLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"tcp://127.0.0.1:1", true},
		{"tcp://127.8.9.10:1", true},
		{"tcp://[::1]:1", true},
		{"tcp://localhost:1", true},
		{"tcp://LocalHost:1", true},
		{"tcp://[::ffff:127.0.0.1]:1", true},
		{"tcp://:1", false}, // every interface
		{"tcp://0.0.0.0:1", false},
		{"tcp://[::]:1", false},
		{"tcp://192.168.1.2:1", false},
		{"tcp://localhost.example.com:1", false},
		{"tcp://myhost:1", false},
		{"unix:///run/x.sock", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			e, err := listen.ParseHost(tt.host, false)
			require.NoError(t, err)
			assert.Equal(t, tt.want, e.Loopback())
		})
	}
}

// certs are a CA and a server certificate in dir, under docker's names.
type certs struct{ ca, cert, key string }

func makeCerts(t *testing.T) certs {
	dir := t.TempDir()
	c := certs{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")}
	ca := testcerts.NewCA(t, "plugdbg test CA")
	ca.WriteCert(t, c.ca)
	ca.Server(t, c.cert, c.key, "127.0.0.1", "localhost")
	return c
}

// TestRules: a tcp listener off the loopback interface needs mutual TLS;
// plain tcp and TLS without client authentication are for loopback
// addresses only. Errors name the flag and the address.
func TestRules(t *testing.T) {
	c := makeCerts(t)
	verify := listen.TLS{Verify: true, CACert: c.ca, Cert: c.cert, Key: c.key}
	tlsOnly := listen.TLS{Enable: true, Cert: c.cert, Key: c.key}
	tests := []struct {
		name  string
		hosts []string
		tls   listen.TLS
		err   []string // substrings of the error; none: accepted
	}{
		{name: "unix", hosts: []string{"unix:///run/x.sock"}},
		{name: "plain loopback", hosts: []string{"unix:///run/x.sock", "tcp://127.0.0.1:2375", "tcp://[::1]:2375", "tcp://localhost"}},
		{name: "tls loopback", hosts: []string{"tcp://127.0.0.1"}, tls: tlsOnly},
		{name: "verify anywhere", hosts: []string{"tcp://0.0.0.0:2376", "tcp://:2377", "tcp://192.0.2.1", "tcp://myhost"}, tls: verify},
		{name: "plain all addresses", hosts: []string{"unix:///run/x.sock", "tcp://0.0.0.0:2375"},
			err: []string{"-H tcp://0.0.0.0:2375: a non-loopback address needs --tlsverify with --tlscacert, --tlscert and --tlskey", "no unauthenticated remote API"}},
		{name: "plain every interface", hosts: []string{"tcp://:2375"},
			err: []string{"-H tcp://:2375: an empty host (every interface) needs --tlsverify"}},
		{name: "plain hostname", hosts: []string{"tcp://myhost"},
			err: []string{"-H tcp://myhost:2375: a non-loopback address needs --tlsverify"}},
		{name: "tls only remote", hosts: []string{"tcp://127.0.0.1", "tcp://192.0.2.1"}, tls: tlsOnly,
			err: []string{"-H tcp://192.0.2.1:2376: --tls without --tlsverify authenticates no client", "needs --tlsverify"}},
		{name: "twice", hosts: []string{"tcp://127.0.0.1:2375", "tcp://127.0.0.1"}, err: []string{"-H tcp://127.0.0.1:2375 is given twice"}},
		{name: "none", err: []string{"no -H address"}},
		{name: "bad address", hosts: []string{"unix:///run/x.sock", "udp://127.0.0.1:1"}, err: []string{`invalid -H address "udp://127.0.0.1:1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := listen.New(tt.hosts, tt.tls)
			if len(tt.err) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.err {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestTLSFiles: a missing or unset file is an error naming its flag, its
// path and the addresses that needed it; the CA is needed only to verify
// clients, and unix listeners need no file at all.
func TestTLSFiles(t *testing.T) {
	c := makeCerts(t)
	missing := filepath.Join(t.TempDir(), "nope.pem")
	hosts := []string{"unix:///run/x.sock", "tcp://127.0.0.1:0"}
	tests := []struct {
		name string
		tls  listen.TLS
		err  []string
	}{
		{name: "missing CA", tls: listen.TLS{Verify: true, CACert: missing, Cert: c.cert, Key: c.key},
			err: []string{"TLS for -H tcp://127.0.0.1:0: --tlscacert: stat " + missing + ": no such file or directory"}},
		{name: "missing cert", tls: listen.TLS{Verify: true, CACert: c.ca, Cert: missing, Key: c.key},
			err: []string{"--tlscert: stat " + missing}},
		{name: "missing key", tls: listen.TLS{Enable: true, Cert: c.cert, Key: missing},
			err: []string{"--tlskey: stat " + missing}},
		{name: "unset CA", tls: listen.TLS{Verify: true, Cert: c.cert, Key: c.key},
			err: []string{"--tlscacert is needed and not set (nor is PLUGDBG_CERT_PATH, whose ca.pem it defaults to)"}},
		{name: "unset cert", tls: listen.TLS{Enable: true, Key: c.key},
			err: []string{"--tlscert is needed and not set"}},
		{name: "key of another cert", tls: listen.TLS{Enable: true, Cert: c.cert, Key: makeCerts(t).key},
			err: []string{"X509 key pair"}},
		{name: "CA not PEM", tls: listen.TLS{Verify: true, CACert: c.key, Cert: c.cert, Key: c.key},
			err: []string{"TLS for -H tcp://127.0.0.1:0"}},
		{name: "tls without CA", tls: listen.TLS{Enable: true, Cert: c.cert, Key: c.key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := listen.New(hosts, tt.tls)
			if len(tt.err) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.err {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	t.Run("unix only", func(t *testing.T) {
		_, err := listen.New([]string{"unix:///run/x.sock"}, listen.TLS{Verify: true, CACert: missing})
		assert.NoError(t, err, "TLS is for tcp listeners only")
	})
}

// serve answers "ok" on ln until the test ends.
func serve(t *testing.T, ln net.Listener) {
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ErrorLog: log.New(io.Discard, "", 0), // the refused handshakes
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

func get(t *testing.T, url string, cfg *tls.Config) (string, error) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestOpen opens a unix socket and tcp listeners on loopback ports the
// system picks, each described as the daemon logs it.
func TestOpen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	cfg, err := listen.New([]string{"unix://" + sock, "tcp://127.0.0.1:0", "tcp://localhost:0"}, listen.TLS{})
	require.NoError(t, err)
	lns, err := cfg.Open()
	require.NoError(t, err)
	require.Len(t, lns, 3)
	for _, l := range lns {
		serve(t, l)
	}
	assert.Equal(t, "unix://"+sock, lns[0].String())
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
	for _, l := range lns[1:] {
		assert.Regexp(t, `^tcp://127\.0\.0\.1:[1-9][0-9]* \(plain HTTP, loopback only\)$`, l.String())
		body, err := get(t, "http://"+strings.TrimPrefix(l.URL, "tcp://")+"/", nil)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)
	}
	assert.Equal(t, lns[0].String()+", "+lns[1].String()+", "+lns[2].String(), listen.Describe(lns))
}

// TestOpenTLS: with --tlsverify the tcp listener speaks TLS 1.2 or later,
// HTTP/1.1, and serves only clients with a certificate of its CA.
func TestOpenTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "plugdbg test CA")
	ca.WriteCert(t, filepath.Join(dir, "ca.pem"))
	ca.Server(t, filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem"), "127.0.0.1", "localhost")
	client := ca.Client(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "alice")
	foreign := testcerts.NewCA(t, "another CA").Client(t, filepath.Join(dir, "f-cert.pem"), filepath.Join(dir, "f-key.pem"), "mallory")

	cfg, err := listen.New([]string{"tcp://127.0.0.1:0"}, listen.TLS{
		Verify: true, CACert: filepath.Join(dir, "ca.pem"),
		Cert: filepath.Join(dir, "server-cert.pem"), Key: filepath.Join(dir, "server-key.pem"),
	})
	require.NoError(t, err)
	lns, err := cfg.Open()
	require.NoError(t, err)
	require.Len(t, lns, 1)
	serve(t, lns[0])
	assert.Regexp(t, `^tcp://127\.0\.0\.1:[0-9]+ \(TLS, client certificates required\)$`, lns[0].String())
	url := "https://" + strings.TrimPrefix(lns[0].URL, "tcp://") + "/"

	body, err := get(t, url, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}})
	require.NoError(t, err)
	assert.Equal(t, "ok", body)

	_, err = get(t, url, &tls.Config{RootCAs: ca.Pool()})
	require.Error(t, err, "no client certificate")
	assert.Contains(t, err.Error(), "certificate required")

	// Go's client sends no certificate the server's CA did not sign...
	_, err = get(t, url, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{foreign}})
	require.Error(t, err, "a certificate of another CA")
	assert.Contains(t, err.Error(), "certificate required")
	// ... and the server refuses one sent all the same.
	_, err = get(t, url, &tls.Config{RootCAs: ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &foreign, nil
	}})
	require.Error(t, err, "a certificate of another CA, sent")
	assert.Contains(t, err.Error(), "unknown certificate authority")

	_, err = get(t, url, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}, MaxVersion: tls.VersionTLS11})
	assert.Error(t, err, "TLS 1.1")

	conn, err := tls.Dial("tcp", strings.TrimPrefix(lns[0].URL, "tcp://"), &tls.Config{
		RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}, NextProtos: []string{"h2", "http/1.1"},
	})
	require.NoError(t, err)
	assert.Equal(t, "http/1.1", conn.ConnectionState().NegotiatedProtocol)
	conn.Close()
}

// TestOpenAddressInUse: a tcp address in use fails the whole Open, naming
// the address, and the listeners opened before it are closed, their
// sockets removed.
func TestOpenAddressInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	sock := filepath.Join(t.TempDir(), "api.sock")
	host := "tcp://" + taken.Addr().String()
	cfg, err := listen.New([]string{"unix://" + sock, "tcp://127.0.0.1:0", host}, listen.TLS{})
	require.NoError(t, err)
	lns, err := cfg.Open()
	require.Error(t, err)
	assert.Nil(t, lns)
	assert.Contains(t, err.Error(), "listen on -H "+host+": ")
	assert.Contains(t, err.Error(), "address already in use")
	_, err = os.Stat(sock)
	assert.ErrorIs(t, err, os.ErrNotExist, "the socket opened first is gone")
}
