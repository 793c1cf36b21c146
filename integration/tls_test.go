package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/internal/testcerts"
)

// tlsFiles are the PEM files of one test, under the names docker's guide
// gives them: the daemon's server-cert.pem and server-key.pem, a client's
// cert.pem and key.pem, and the CA of both, ca.pem.
type tlsFiles struct {
	dir                   string
	ca                    *testcerts.CA
	serverCert, serverKey string
	client                tls.Certificate // cert.pem, key.pem
	foreign               tls.Certificate // a client certificate of another CA
}

func (f tlsFiles) path(name string) string { return filepath.Join(f.dir, name) }

func makeTLSFiles(t *testing.T) tlsFiles {
	f := tlsFiles{dir: t.TempDir(), ca: testcerts.NewCA(t, "plugdbg test CA")}
	f.ca.WriteCert(t, f.path("ca.pem"))
	f.serverCert, f.serverKey = f.path("server-cert.pem"), f.path("server-key.pem")
	f.ca.Server(t, f.serverCert, f.serverKey, "127.0.0.1", "localhost")
	f.client = f.ca.Client(t, f.path("cert.pem"), f.path("key.pem"), "operator")
	f.foreign = testcerts.NewCA(t, "another CA").Client(t, f.path("foreign-cert.pem"), f.path("foreign-key.pem"), "mallory")
	return f
}

// tcpListener is the address of d's tcp listener, as its start line tells
// it ("plugdbgd listening on unix://…, tcp://127.0.0.1:PORT (security)"):
// the daemon is given port 0 and binds a free one itself.
func tcpListener(t *testing.T, d *daemon, security string) string {
	t.Helper()
	m := regexp.MustCompile(`plugdbgd listening on [^"]*(tcp://127\.0\.0\.1:[0-9]+) \(` + regexp.QuoteMeta(security) + `\)`).FindStringSubmatch(d.daemonLog())
	require.NotNil(t, m, "no tcp listener (%s) in the start line; log:\n%s", security, d.daemonLog())
	return m[1]
}

// TestTLSListener: plugdbgd serves the API on a unix socket and, with
// --tlsverify, on a loopback tcp port to clients holding a certificate of
// its CA: the Go client and the stock docker CLI list plugins over it;
// a client without a certificate or with one of another CA is refused in
// the handshake; a browser's request is refused on every listener.
func TestTLSListener(t *testing.T) {
	f := makeTLSFiles(t)
	d := startDaemonWith(t, "--ui-addr", "", "-H", "tcp://127.0.0.1:0",
		"--tlsverify", "--tlscacert", f.path("ca.pem"), "--tlscert", f.serverCert, "--tlskey", f.serverKey)
	d.create(t, "tlsvol", "volume") // over the unix socket
	host := tcpListener(t, d, "TLS, client certificates required")
	assert.Contains(t, d.daemonLog(), "plugdbgd listening on "+d.host+", "+host+" (TLS, client certificates required)")
	addr := strings.TrimPrefix(host, "tcp://")

	remote := func(t *testing.T, cfg *tls.Config) *client.Client {
		t.Helper()
		c, err := client.NewWithOptions(client.Options{Host: host, TLS: cfg})
		require.NoError(t, err)
		return c
	}

	t.Run("client certificate", func(t *testing.T) {
		c := remote(t, &tls.Config{RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{f.client}})
		plugins, err := c.List(testCtx(t), client.ListOptions{})
		require.NoError(t, err)
		require.Len(t, plugins, 1)
		assert.Equal(t, "tlsvol:latest", plugins[0].Name)
	})

	t.Run("no client certificate", func(t *testing.T) {
		c := remote(t, &tls.Config{RootCAs: f.ca.Pool()})
		_, err := c.List(testCtx(t), client.ListOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "tls: certificate required")
		eventually(t, func() bool {
			return strings.Contains(d.daemonLog(), "TLS handshake error") && strings.Contains(d.daemonLog(), "client didn't provide a certificate")
		}, waitTimeout, "the daemon logs the refused handshake")
	})

	t.Run("certificate of another CA", func(t *testing.T) {
		// Go's client offers no certificate the server's CA did not
		// sign: the daemon sees none.
		c := remote(t, &tls.Config{RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{f.foreign}})
		_, err := c.List(testCtx(t), client.ListOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "tls: certificate required")
		// One sent all the same is refused.
		c = remote(t, &tls.Config{RootCAs: f.ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &f.foreign, nil
		}})
		_, err = c.List(testCtx(t), client.ListOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "tls: unknown certificate authority")
		eventually(t, func() bool {
			return strings.Contains(d.daemonLog(), "certificate signed by unknown authority")
		}, waitTimeout, "the daemon logs the refused handshake")
	})

	t.Run("a server the CA did not sign", func(t *testing.T) {
		other := testcerts.NewCA(t, "not the daemon's CA")
		c := remote(t, &tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{f.client}})
		_, err := c.List(testCtx(t), client.ListOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "TLS handshake with "+addr)
		assert.Contains(t, err.Error(), "certificate signed by unknown authority")
	})

	t.Run("browser", func(t *testing.T) {
		tcp := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{f.client}}}}
		defer tcp.CloseIdleConnections()
		unixHC := unixHTTP(d.sock, time.Minute)
		defer unixHC.CloseIdleConnections()
		for _, tt := range []struct {
			name string
			hc   *http.Client
			url  string
		}{{"tcp", tcp, "https://" + addr}, {"unix", unixHC, "http://plugdbg"}} {
			t.Run(tt.name, func(t *testing.T) {
				for _, h := range [][2]string{{"Origin", "http://evil.example"}, {"Sec-Fetch-Site", "same-origin"}} {
					req, err := http.NewRequest(http.MethodPost, tt.url+"/plugins/tlsvol/enable", nil)
					require.NoError(t, err)
					req.Header.Set(h[0], h[1])
					resp, err := tt.hc.Do(req)
					require.NoError(t, err)
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", h[0], body)
					var msg struct{ Message string }
					require.NoError(t, json.Unmarshal(body, &msg), "%s", body)
					assert.Contains(t, msg.Message, "API does not serve browsers", h[0])
				}
				// The same request without them is the API's.
				resp, err := tt.hc.Get(tt.url + "/plugins")
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			})
		}
		assert.False(t, d.inspect(t, "tlsvol").Enabled, "a refused request did nothing")
	})

	for _, cli := range dockerCLIs(t) {
		t.Run(cli.name, func(t *testing.T) {
			docker := func(args ...string) (stdout, stderr string, code int) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, cli.path, append([]string{"-H", host, "--tlsverify", "--tlscacert", f.path("ca.pem")}, args...)...)
				cmd.Env = dockerEnv(host, t.TempDir())
				return runCommand(t, cmd)
			}
			stdout, stderr, code := docker("--tlscert", f.path("cert.pem"), "--tlskey", f.path("key.pem"), "plugin", "ls")
			require.Equal(t, 0, code, "docker plugin ls over TLS: %s", stderr)
			assert.Regexp(t, `(?m)^[0-9a-f]{12}\s+tlsvol:latest\s`, stdout)

			_, stderr, code = docker("plugin", "ls")
			assert.NotEqual(t, 0, code, "docker plugin ls without a client certificate")
			assert.Contains(t, stderr, "certificate required")
		})
	}
}

// TestPlainLoopbackListener: without TLS, a tcp listener on a loopback
// address serves plugdbg as the unix socket does, and refuses what a web
// page sends it.
func TestPlainLoopbackListener(t *testing.T) {
	d := startDaemonWith(t, "--ui-addr", "", "-H", "tcp://127.0.0.1:0")
	d.create(t, "plainvol", "volume")
	host := tcpListener(t, d, "plain HTTP, loopback only")

	stdout, stderr, code := cli(t, host, "ls", "--format", "{{.Name}}")
	require.Equal(t, 0, code, "plugdbg ls over tcp: %s", stderr)
	assert.Equal(t, "plainvol:latest\n", stdout)

	req, err := http.NewRequest(http.MethodPost, "http://"+strings.TrimPrefix(host, "tcp://")+"/plugins/plainvol/enable", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "http://evil.example")
	hc := &http.Client{Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), "API does not serve browsers")
	assert.False(t, d.inspect(t, "plainvol").Enabled, "a refused request did nothing")
}

// TestTLSListenerRefused: plugdbgd refuses to start with a tcp listener
// that would serve the API unauthenticated off the loopback interface, or
// on a tcp address in use, and leaves nothing behind: no root directory,
// no socket, no lock (a daemon on the same roots starts next).
func TestTLSListenerRefused(t *testing.T) {
	f := makeTLSFiles(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	tlsOnly := []string{"--tls", "--tlscert", f.serverCert, "--tlskey", f.serverKey}
	tests := []struct {
		name string
		args []string
		want []string // in the error
	}{
		{name: "plain on every interface", args: []string{"-H", "tcp://0.0.0.0:0"},
			want: []string{"Error: -H tcp://0.0.0.0:0: a non-loopback address needs --tlsverify with --tlscacert, --tlscert and --tlskey"}},
		{name: "tls without verify off loopback", args: append([]string{"-H", "tcp://0.0.0.0:0"}, tlsOnly...),
			want: []string{"Error: -H tcp://0.0.0.0:0: --tls without --tlsverify authenticates no client"}},
		{name: "all interfaces by an empty host", args: []string{"-H", "tcp://:0"},
			want: []string{"Error: -H tcp://:0: an empty host (every interface) needs --tlsverify"}},
		{name: "missing CA", args: []string{"-H", "tcp://127.0.0.1:0", "--tlsverify", "--tlscacert", f.path("nope.pem"), "--tlscert", f.serverCert, "--tlskey", f.serverKey},
			want: []string{"Error: TLS for -H tcp://127.0.0.1:0: --tlscacert: stat " + f.path("nope.pem") + ": no such file or directory"}},
		{name: "CA from an empty PLUGDBG_CERT_PATH", args: []string{"-H", "tcp://127.0.0.1:0", "--tlsverify", "--tlscert", f.serverCert, "--tlskey", f.serverKey},
			want: []string{"--tlscacert is needed and not set (nor is PLUGDBG_CERT_PATH, whose ca.pem it defaults to)"}},
		{name: "address in use", args: []string{"-H", "tcp://127.0.0.1:0", "-H", "tcp://" + taken.Addr().String()},
			want: []string{"Error: listen on -H tcp://" + taken.Addr().String() + ": ", "address already in use"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDaemon(t)
			args := append([]string{"--data-root", d.dataRoot, "--exec-root", d.execRoot, "--ui-addr", "", "-H", d.host}, tt.args...)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, plugdbgdBin, args...)
			cmd.Env = append(os.Environ(), "PLUGDBG_CERT_PATH=")
			stdout, stderr, code := runCommand(t, cmd)
			assert.Equal(t, 1, code, "plugdbgd %q: exit status; stdout: %s", args, stdout)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
			_, err := os.Stat(d.sock)
			assert.ErrorIs(t, err, os.ErrNotExist, "the unix socket is not left behind")
			if !strings.HasPrefix(tt.name, "address in use") {
				// Refused before anything was touched.
				for _, dir := range []string{d.dataRoot, d.execRoot} {
					_, err := os.Stat(dir)
					assert.ErrorIs(t, err, os.ErrNotExist, "%s was created", dir)
				}
				return
			}
			// The roots' locks are free again.
			d.startWith("--ui-addr", "")
		})
	}
}
