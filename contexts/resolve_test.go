package contexts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func ptr(b bool) *bool { return &b }

// TestChooseContext walks docker's precedence, one row each: --context;
// -H given ⇒ default; PLUGDBG_HOST set ⇒ default; PLUGDBG_CONTEXT;
// currentContext in config.json; default.
func TestChooseContext(t *testing.T) {
	all := map[string]string{EnvHost: "unix:///env.sock", EnvContext: "from-env"}
	tests := []struct {
		name    string
		flags   Flags
		env     map[string]string
		current string
		want    Choice
		wantErr error
	}{
		{name: "--context beats everything", flags: Flags{Context: "flag"}, env: all, current: "cur", want: Choice{"flag", "--context"}},
		{name: "--context default", flags: Flags{Context: "default"}, env: all, current: "cur", want: Choice{"default", "--context"}},
		{name: "--host and --context conflict", flags: Flags{Host: "unix:///x", Context: "flag"}, wantErr: ErrConflict},
		{name: "-H given means default", flags: Flags{Host: "unix:///x"}, env: all, current: "cur", want: Choice{"default", "--host"}},
		{name: "PLUGDBG_HOST set means default", env: all, current: "cur", want: Choice{"default", "PLUGDBG_HOST"}},
		{name: "PLUGDBG_CONTEXT", env: map[string]string{EnvContext: "from-env"}, current: "cur", want: Choice{"from-env", "PLUGDBG_CONTEXT"}},
		{name: "currentContext of config.json", current: "cur", want: Choice{"cur", "config.json"}},
		{name: "default", want: Choice{"default", ""}},
		{name: "TLS flags choose nothing", flags: Flags{TLSVerify: ptr(true), TLSCACert: "/ca.pem"}, current: "cur", want: Choice{"cur", "config.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := func() (string, error) { return tt.current, nil }
			got, err := ChooseContext(tt.flags, envOf(tt.env), current)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.EqualError(t, err, "conflicting options: cannot specify both --host and --context")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("config.json is read only when needed", func(t *testing.T) {
		broken := func() (string, error) { return "", errors.New("config.json is broken") }
		for _, f := range []Flags{{Context: "x"}, {Host: "unix:///x"}} {
			_, err := ChooseContext(f, envOf(nil), broken)
			assert.NoError(t, err)
		}
		_, err := ChooseContext(Flags{}, envOf(map[string]string{EnvContext: "x"}), broken)
		assert.NoError(t, err)
		_, err = ChooseContext(Flags{}, envOf(nil), broken)
		assert.EqualError(t, err, "config.json is broken")
	})
}

func TestResolve(t *testing.T) {
	cfg := t.TempDir()
	s := NewStore(cfg)
	require.NoError(t, s.Create("remote", "", Endpoint{Host: "ssh://me@remote"}))
	require.NoError(t, s.Create("used", "", Endpoint{Host: "ssh://me@used"}))
	require.NoError(t, s.SetCurrent("used"))
	env := map[string]string{EnvConfig: cfg}
	with := func(k, v string) map[string]string {
		m := map[string]string{EnvConfig: cfg, k: v}
		return m
	}
	tests := []struct {
		name  string
		flags Flags
		env   map[string]string
		want  string // host
		from  string
	}{
		{name: "--context", flags: Flags{Context: "remote"}, env: with(EnvHost, "unix:///env.sock"), want: "ssh://me@remote", from: "--context"},
		{name: "-H", flags: Flags{Host: "unix:///flag.sock"}, env: env, want: "unix:///flag.sock", from: "--host"},
		{name: "PLUGDBG_HOST", env: with(EnvHost, "unix:///env.sock"), want: "unix:///env.sock", from: "PLUGDBG_HOST"},
		{name: "PLUGDBG_CONTEXT", env: with(EnvContext, "remote"), want: "ssh://me@remote", from: "PLUGDBG_CONTEXT"},
		{name: "context use", env: env, want: "ssh://me@used", from: "config.json"},
		{name: "--context default", flags: Flags{Context: "default"}, env: env, want: types.DefaultHost, from: "--context"},
		{name: "nothing at all", env: map[string]string{EnvConfig: t.TempDir()}, want: types.DefaultHost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(tt.flags, envOf(tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Endpoint.Host)
			assert.Equal(t, tt.from, r.Source)
		})
	}

	_, err := Resolve(Flags{}, envOf(with(EnvContext, "gone")))
	assert.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `context "gone" does not exist (from PLUGDBG_CONTEXT)`)
	_, err = Resolve(Flags{Context: "bad name"}, envOf(env))
	assert.ErrorIs(t, err, ErrInvalidName)
	_, err = Resolve(Flags{Host: "unix:///x", Context: "remote"}, envOf(env))
	assert.ErrorIs(t, err, ErrConflict)
}

// pki is a CA and the files of a server and a client certificate it
// signed, as PEM files in dir.
type pki struct {
	dir           string
	caPEM         []byte
	serverCert    tls.Certificate
	ca, cert, key string // the client's files
	serverCA      *x509.CertPool
	caKey         *ecdsa.PrivateKey
	caTemplate    *x509.Certificate
	foreignCA     string // a CA that signed nothing here
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err = x509.ParseCertificate(caDER)
	require.NoError(t, err)
	p.caKey, p.caTemplate = caKey, ca
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.ca = p.write("ca.pem", p.caPEM)
	p.serverCA = x509.NewCertPool()
	p.serverCA.AddCert(ca)

	certPEM, keyPEM := p.issue(t, 2, x509.ExtKeyUsageServerAuth)
	p.serverCert, err = tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	certPEM, keyPEM = p.issue(t, 3, x509.ExtKeyUsageClientAuth)
	p.cert = p.write("cert.pem", certPEM)
	p.key = p.write("key.pem", keyPEM)

	other := newSelfSigned(t)
	p.foreignCA = p.write("foreign-ca.pem", other)
	return p
}

func (p *pki) write(name string, b []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		panic(err)
	}
	return path
}

func (p *pki) issue(t *testing.T, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caTemplate, &key.PublicKey, p.caKey)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func newSelfSigned(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "foreign"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// serve runs a TLS server on loopback that demands a client certificate
// signed by p's CA, and returns its address.
func (p *pki) serve(t *testing.T) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.serverCert},
		ClientCAs:    p.serverCA, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake connects to addr with cfg and reports the first failure.
func handshake(addr string, cfg *tls.Config) error {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 2)
	_, err = conn.Read(buf) // TLS 1.3: a refused client certificate shows here
	return err
}

// TestDefaultEndpointTLS: the TLS flags and variables of the default
// context, as docker's.
func TestDefaultEndpointTLS(t *testing.T) {
	p := newPKI(t)
	certDir := p.dir // holds ca.pem, cert.pem, key.pem
	empty := t.TempDir()
	tests := []struct {
		name    string
		flags   Flags
		env     map[string]string
		want    Endpoint // labels not compared
		wantErr []string // substrings of the error
	}{
		{
			name: "plain tcp",
			env:  map[string]string{EnvHost: "tcp://127.0.0.1:2375", EnvCertPath: certDir},
			want: Endpoint{Host: "tcp://127.0.0.1:2375", SkipTLSVerify: true},
		},
		{
			name:  "--tlsverify with PLUGDBG_CERT_PATH",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true)},
			env:   map[string]string{EnvCertPath: certDir},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, CAFile: p.ca, CertFile: p.cert, KeyFile: p.key},
		},
		{
			name: "PLUGDBG_TLS_VERIFY non-empty, even 0, is on",
			env:  map[string]string{EnvHost: "tcp://127.0.0.1:2376", EnvTLSVerify: "0", EnvCertPath: certDir},
			want: Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, CAFile: p.ca, CertFile: p.cert, KeyFile: p.key},
		},
		{
			name:  "--tlsverify=false still turns TLS on, without verification",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(false)},
			env:   map[string]string{EnvCertPath: certDir, EnvTLSVerify: "1"},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, SkipTLSVerify: true, CAFile: p.ca, CertFile: p.cert, KeyFile: p.key},
		},
		{
			name:  "--tls without verification needs no CA",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLS: ptr(true)},
			env:   map[string]string{EnvCertPath: empty},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, SkipTLSVerify: true},
		},
		{
			name: "PLUGDBG_TLS",
			env:  map[string]string{EnvHost: "tcp://127.0.0.1:2376", EnvTLS: "1", EnvCertPath: empty},
			want: Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, SkipTLSVerify: true},
		},
		{
			name:  "--tls=false beats PLUGDBG_TLS",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLS: ptr(false)},
			env:   map[string]string{EnvTLS: "1"},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", SkipTLSVerify: true},
		},
		{
			name:  "the files default to the config directory",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true)},
			env:   map[string]string{EnvConfig: certDir},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, CAFile: p.ca, CertFile: p.cert, KeyFile: p.key},
		},
		{
			name:  "flags beat PLUGDBG_CERT_PATH; a missing default client certificate is left out",
			flags: Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true), TLSCACert: p.ca},
			env:   map[string]string{EnvCertPath: empty},
			want:  Endpoint{Host: "tcp://127.0.0.1:2376", TLS: true, CAFile: p.ca},
		},
		{
			name:  "a unix host ignores TLS and looks at no file",
			flags: Flags{TLSVerify: ptr(true), TLSCACert: "/nonexistent/ca.pem"},
			env:   map[string]string{EnvHost: "unix:///run/x.sock"},
			want:  Endpoint{Host: "unix:///run/x.sock", TLS: true, CAFile: ""},
		},
		{
			name:  "an ssh host ignores TLS",
			flags: Flags{Host: "ssh://me@h", TLSVerify: ptr(true)},
			env:   map[string]string{EnvCertPath: empty},
			want:  Endpoint{Host: "ssh://me@h", TLS: true},
		},
		{
			name:  "no flag, no variable: the default socket",
			flags: Flags{},
			want:  Endpoint{Host: types.DefaultHost, SkipTLSVerify: true},
		},
		{
			name:    "verification without a CA",
			flags:   Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true)},
			env:     map[string]string{EnvCertPath: empty},
			wantErr: []string{"--tlscacert (default: ca.pem in $PLUGDBG_CERT_PATH)", filepath.Join(empty, "ca.pem"), "no such file"},
		},
		{
			name:    "a missing file given by flag",
			flags:   Flags{Host: "tcp://127.0.0.1:2376", TLS: ptr(true), TLSCert: filepath.Join(empty, "mine.pem"), TLSKey: p.key},
			wantErr: []string{"--tlscert: ", filepath.Join(empty, "mine.pem"), "no such file"},
		},
		{
			name:    "a certificate without its key",
			flags:   Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true), TLSCACert: p.ca, TLSCert: p.cert},
			env:     map[string]string{EnvCertPath: empty},
			wantErr: []string{"--tlscert " + p.cert + " has no key", "--tlskey"},
		},
		{
			name:    "a file too large",
			flags:   Flags{Host: "tcp://127.0.0.1:2376", TLSVerify: ptr(true), TLSCACert: p.write("big.pem", make([]byte, MaxFileSize+1))},
			env:     map[string]string{EnvCertPath: empty},
			wantErr: []string{"--tlscacert: ", "big.pem", "larger than 1 MiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultEndpoint(tt.flags, envOf(tt.env))
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, s := range tt.wantErr {
					assert.ErrorContains(t, err, s)
				}
				return
			}
			require.NoError(t, err)
			got.labels = [3]string{}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestTLSConfigHandshake: the configuration TLSConfig builds meets a
// daemon that demands a client certificate of its CA.
func TestTLSConfigHandshake(t *testing.T) {
	p := newPKI(t)
	addr := p.serve(t)
	host := "tcp://" + addr
	config := func(f Flags) *tls.Config {
		t.Helper()
		f.Host = host
		e, err := DefaultEndpoint(f, envOf(map[string]string{EnvCertPath: p.dir}))
		require.NoError(t, err)
		cfg, err := e.TLSConfig()
		require.NoError(t, err)
		return cfg
	}

	cfg := config(Flags{TLSVerify: ptr(true)})
	require.NotNil(t, cfg)
	assert.GreaterOrEqual(t, cfg.MinVersion, uint16(tls.VersionTLS12))
	assert.False(t, cfg.InsecureSkipVerify)
	assert.NoError(t, handshake(addr, cfg), "verified, with a client certificate")

	assert.Error(t, handshake(addr, config(Flags{TLSVerify: ptr(true), TLSCACert: p.foreignCA})),
		"a daemon certificate of another CA is refused")

	cfg = config(Flags{TLS: ptr(true), TLSCACert: p.foreignCA})
	assert.True(t, cfg.InsecureSkipVerify)
	assert.NoError(t, handshake(addr, cfg), "--tls does not verify the daemon")

	empty := t.TempDir()
	e, err := DefaultEndpoint(Flags{Host: host, TLSVerify: ptr(true), TLSCACert: p.ca}, envOf(map[string]string{EnvCertPath: empty}))
	require.NoError(t, err)
	cfg, err = e.TLSConfig()
	require.NoError(t, err)
	assert.Error(t, handshake(addr, cfg), "no client certificate: the daemon refuses")

	// A stored context reaches the daemon the same way.
	s := NewStore(t.TempDir())
	require.NoError(t, s.Create("tls", "", Endpoint{Host: host, TLS: true, CAFile: p.ca, CertFile: p.cert, KeyFile: p.key}))
	c, err := s.Get("tls")
	require.NoError(t, err)
	cfg, err = c.Endpoint().TLSConfig()
	require.NoError(t, err)
	assert.NoError(t, handshake(addr, cfg))

	// Not TLS: no configuration.
	cfg, err = Endpoint{Host: "unix:///x", TLS: true}.TLSConfig()
	assert.NoError(t, err)
	assert.Nil(t, cfg)
}
