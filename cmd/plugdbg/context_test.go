package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

// cliEnv clears the variables that choose a daemon and points
// PLUGDBG_CONFIG at a fresh directory, which it returns: no test reads or
// writes the user's own configuration.
func cliEnv(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"PLUGDBG_HOST", "PLUGDBG_CONTEXT", "PLUGDBG_CERT_PATH", "PLUGDBG_TLS_VERIFY", "PLUGDBG_TLS"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("PLUGDBG_CONFIG", dir)
	return dir
}

// plugdbg runs the CLI with args in-process and returns what it wrote and
// its exit status.
func plugdbg(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(args)
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	code = run(context.Background(), root, &e)
	return o.String(), e.String(), code
}

// fakeDaemon answers GET /version with name as the daemon's version on a
// unix socket, and returns its host: which daemon a command reached.
func fakeDaemon(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pdctx")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, name+".sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(versionHandler(name))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

func versionHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/version") {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(types.Version{Version: name})
	})
}

// reached returns the daemon `plugdbg version` reached with args.
func reached(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := plugdbg(t, append(args, "version")...)
	require.Equal(t, 0, code, "plugdbg %v version: %s", args, errOut)
	for _, l := range strings.Split(out, "\n")[3:] {
		if v, ok := strings.CutPrefix(l, " Version:\t"); ok {
			return v
		}
	}
	t.Fatalf("no server version in %q", out)
	return ""
}

// TestContextChoosesTheDaemon: every row of docker's precedence, through
// the CLI, to the daemon that answers.
func TestContextChoosesTheDaemon(t *testing.T) {
	cliEnv(t)
	hosts := map[string]string{}
	for _, n := range []string{"flag", "env", "ctxflag", "ctxenv", "used", "sock"} {
		hosts[n] = fakeDaemon(t, n)
	}
	for _, n := range []string{"ctxflag", "ctxenv", "used"} {
		_, errOut, code := plugdbg(t, "context", "create", n, "--host", hosts[n])
		require.Equal(t, 0, code, errOut)
	}
	_, errOut, code := plugdbg(t, "context", "use", "used")
	require.Equal(t, 0, code, errOut)

	t.Run("--context beats PLUGDBG_HOST", func(t *testing.T) {
		t.Setenv("PLUGDBG_HOST", hosts["env"])
		t.Setenv("PLUGDBG_CONTEXT", "ctxenv")
		assert.Equal(t, "ctxflag", reached(t, "--context", "ctxflag"))
		assert.Equal(t, "ctxflag", reached(t, "-c", "ctxflag"))
	})
	t.Run("-H beats PLUGDBG_CONTEXT", func(t *testing.T) {
		t.Setenv("PLUGDBG_CONTEXT", "ctxenv")
		assert.Equal(t, "flag", reached(t, "-H", hosts["flag"]))
	})
	t.Run("PLUGDBG_HOST beats PLUGDBG_CONTEXT", func(t *testing.T) {
		t.Setenv("PLUGDBG_HOST", hosts["env"])
		t.Setenv("PLUGDBG_CONTEXT", "ctxenv")
		assert.Equal(t, "env", reached(t))
	})
	t.Run("PLUGDBG_CONTEXT beats context use", func(t *testing.T) {
		t.Setenv("PLUGDBG_CONTEXT", "ctxenv")
		assert.Equal(t, "ctxenv", reached(t))
	})
	t.Run("context use", func(t *testing.T) {
		assert.Equal(t, "used", reached(t))
	})
	t.Run("--context default", func(t *testing.T) {
		t.Setenv("PLUGDBG_HOST", hosts["env"])
		assert.Equal(t, "env", reached(t, "--context", "default"))
	})
	t.Run("default", func(t *testing.T) {
		_, errOut, code := plugdbg(t, "context", "use", "default")
		require.Equal(t, 0, code, errOut)
		t.Cleanup(func() { plugdbg(t, "context", "use", "used") })
		_, errOut, code = plugdbg(t, "version")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, types.DefaultHost, "the default socket")
		assert.Equal(t, "sock", reached(t, "-H", hosts["sock"]))
	})
	t.Run("--host and --context", func(t *testing.T) {
		for _, args := range [][]string{{"version"}, {"context", "ls"}} {
			_, errOut, code := plugdbg(t, append([]string{"-H", hosts["flag"], "--context", "ctxflag"}, args...)...)
			assert.Equal(t, 1, code)
			assert.Equal(t, "Error: conflicting options: cannot specify both --host and --context\n", errOut)
		}
	})
	t.Run("a context that does not exist", func(t *testing.T) {
		t.Setenv("PLUGDBG_CONTEXT", "gone")
		_, errOut, code := plugdbg(t, "version")
		assert.Equal(t, 1, code)
		assert.Equal(t, "Error: context \"gone\" does not exist (from PLUGDBG_CONTEXT)\n", errOut)
	})
}

// TestDialStdioIgnoresContexts: the remote end of ssh:// relays to the
// daemon of --host, PLUGDBG_HOST or the default socket, whatever context
// the remote account chose.
func TestDialStdioIgnoresContexts(t *testing.T) {
	cliEnv(t)
	other := fakeDaemon(t, "other")
	_, errOut, code := plugdbg(t, "context", "create", "elsewhere", "--host", other)
	require.Equal(t, 0, code, errOut)
	_, errOut, code = plugdbg(t, "context", "use", "elsewhere")
	require.Equal(t, 0, code, errOut)
	t.Setenv("PLUGDBG_CONTEXT", "elsewhere")

	_, errOut, code = plugdbg(t, "--context", "elsewhere", "dial-stdio")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--context does not apply")

	if _, err := os.Stat(strings.TrimPrefix(types.DefaultHost, "unix://")); err == nil {
		t.Skip("a daemon listens on the default socket: dial-stdio would reach it")
	}
	_, errOut, code = plugdbg(t, "dial-stdio")
	assert.Equal(t, client.DialStdioExitNoDaemon, code)
	assert.Contains(t, errOut, types.DefaultHost)
	assert.NotContains(t, errOut, other)
}

func TestContextCommands(t *testing.T) {
	cfg := cliEnv(t)
	src := t.TempDir()
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		require.NoError(t, os.WriteFile(filepath.Join(src, f), []byte("secret "+f), 0o644))
	}
	ok := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, code := plugdbg(t, args...)
		require.Equal(t, 0, code, "plugdbg %v: %s", args, errOut)
		return out, errOut
	}
	fails := func(want string, args ...string) {
		t.Helper()
		_, errOut, code := plugdbg(t, args...)
		assert.Equal(t, 1, code, "plugdbg %v", args)
		assert.Contains(t, errOut, want, "plugdbg %v", args)
	}

	out, _ := ok("context", "ls")
	assert.Equal(t, ""+
		"NAME        DESCRIPTION                                HOST\n"+
		"default *   Current PLUGDBG_HOST based configuration   "+types.DefaultHost+"\n", out)

	out, errOut := ok("context", "create", "prod", "--host", "ssh://ops@prod.example", "--description", "production")
	assert.Equal(t, "prod\n", out)
	assert.Equal(t, "Successfully created context \"prod\"\n", errOut)
	ok("context", "create", "lab", "--host", "tcp://lab.example:2376", "--tlsverify",
		"--tlscacert", filepath.Join(src, "ca.pem"), "--tlscert", filepath.Join(src, "cert.pem"), "--tlskey", filepath.Join(src, "key.pem"))
	ok("context", "create", "lab2", "--from", "lab", "--description", "copy of lab")
	ok("context", "create", "insecure", "--host", "tcp://10.0.0.1:2376", "--tls")

	// Validation errors name the field.
	fails("invalid context name", "context", "create", "--host", "ssh://h", "--", "-bad")
	fails("invalid context name", "context", "create", "bad/name", "--host", "ssh://h")
	fails(`"default" is reserved`, "context", "create", "default", "--host", "ssh://h")
	fails(`context "prod": context already exists`, "context", "create", "prod", "--host", "ssh://h")
	fails("--host: invalid daemon host", "context", "create", "x1", "--host", "http://h")
	fails("--tls: TLS is for tcp:// hosts", "context", "create", "x1", "--host", "ssh://h", "--tls")
	fails("--tlsverify needs --tlscacert", "context", "create", "x1", "--host", "tcp://h:1", "--tlsverify")
	fails("--tlscacert: open "+filepath.Join(src, "nope.pem"), "context", "create", "x1", "--host", "tcp://h:1", "--tlscacert", filepath.Join(src, "nope.pem"))
	fails("--tlscert "+filepath.Join(src, "cert.pem")+" has no key", "context", "create", "x1", "--host", "tcp://h:1", "--tls", "--tlscert", filepath.Join(src, "cert.pem"))
	fails("--from copies context \"prod\": --host cannot go with it", "context", "create", "x1", "--from", "prod", "--host", "ssh://h")
	fails(`context "nope" does not exist`, "context", "create", "x1", "--from", "nope")
	fails("description: longer than", "context", "create", "x1", "--host", "ssh://h", "--description", strings.Repeat("d", 5000))
	fails("accepts 1 arg(s)", "context", "create")
	out, _ = ok("context", "ls", "-q")
	assert.Equal(t, "default\ninsecure\nlab\nlab2\nprod\n", out, "no failed create left a context")

	out, errOut = ok("context", "use", "lab")
	assert.Equal(t, "lab\n", out)
	assert.Equal(t, "Current context is now \"lab\"\n", errOut)
	out, _ = ok("context", "show")
	assert.Equal(t, "lab\n", out)

	out, _ = ok("context", "ls")
	assert.Equal(t, ""+
		"NAME       DESCRIPTION                                HOST\n"+
		"default    Current PLUGDBG_HOST based configuration   "+types.DefaultHost+"\n"+
		"insecure                                              tcp://10.0.0.1:2376\n"+
		"lab *                                                 tcp://lab.example:2376\n"+
		"lab2       copy of lab                                tcp://lab.example:2376\n"+
		"prod       production                                 ssh://ops@prod.example\n", out)
	out, _ = ok("context", "ls", "--format", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	assert.JSONEq(t, `{"Name":"lab","Description":"","Host":"tcp://lab.example:2376","Current":true,"Error":""}`, lines[2])
	out2, _ := ok("context", "ls", "--format", "{{json .}}")
	assert.Equal(t, out, out2)
	out, _ = ok("context", "ls", "--format", "{{.Name}}={{.Host}}{{if .Current}} (current){{end}}")
	assert.Contains(t, out, "lab=tcp://lab.example:2376 (current)\n")
	out, _ = ok("context", "ls", "--format", "table {{.Name}}\t{{.Current}}")
	assert.True(t, strings.HasPrefix(out, "NAME       CURRENT\n"), out)
	fails("invalid --format template", "context", "ls", "--format", "{{.Name")

	// inspect: docker's shape; TLS files by name, never their contents.
	out, _ = ok("context", "inspect")
	var inspected []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &inspected))
	require.Len(t, inspected, 1)
	assert.Equal(t, "lab", inspected[0]["Name"])
	assert.Equal(t, map[string]any{"plugdbg": []any{"ca.pem", "cert.pem", "key.pem"}}, inspected[0]["TLSMaterial"])
	assert.Equal(t, map[string]any{"plugdbg": map[string]any{"Host": "tcp://lab.example:2376", "SkipTLSVerify": false}}, inspected[0]["Endpoints"])
	storage := inspected[0]["Storage"].(map[string]any)
	assert.True(t, strings.HasPrefix(storage["TLSPath"].(string), filepath.Join(cfg, "contexts", "tls")+string(filepath.Separator)))
	assert.NotContains(t, out, "secret")
	assert.True(t, strings.HasPrefix(out, "[\n    {\n        \"Name\": \"lab\",\n"), out)
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(storage["TLSPath"].(string), "plugdbg", f))
		require.NoError(t, err)
		assert.Equal(t, "secret "+f, string(b), "copied into the store")
	}
	out, _ = ok("context", "inspect", "--format", "{{.Name}} {{.Endpoints.plugdbg.SkipTLSVerify}}", "insecure", "lab2", "default")
	assert.Equal(t, "insecure true\nlab2 false\ndefault false\n", out)
	out, _ = ok("context", "inspect", "--format", "json", "prod")
	// docker 28's: the array on one line.
	assert.True(t, strings.HasPrefix(out, `[{"Name":"prod","Metadata":{"Description":"production"},"Endpoints":`), out)
	assert.Equal(t, 1, strings.Count(out, "\n"))
	out, errOut, code := plugdbg(t, "context", "inspect", "prod", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `"Name": "prod"`)
	assert.Equal(t, "Error: context \"nope\" does not exist\n", errOut)

	// PLUGDBG_HOST hides the current context, and use says so.
	t.Run("PLUGDBG_HOST warnings", func(t *testing.T) {
		t.Setenv("PLUGDBG_HOST", "unix:///elsewhere.sock")
		_, errOut := ok("context", "use", "prod")
		assert.Contains(t, errOut, `Warning: PLUGDBG_HOST environment variable overrides the active context. To use "prod", either set the global --context flag, or unset PLUGDBG_HOST environment variable.`)
		out, errOut := ok("context", "ls")
		assert.Contains(t, out, "default *   Current PLUGDBG_HOST based configuration   unix:///elsewhere.sock\n")
		assert.Contains(t, errOut, "Warning: PLUGDBG_HOST environment variable overrides the active context.")
		out, _ = ok("context", "show")
		assert.Equal(t, "default\n", out)
		// The context config.json names is in use even so.
		fails(`context "prod" is in use, set -f flag to force remove`, "context", "rm", "prod")
		_, errOut = ok("context", "use", "lab")
		assert.Contains(t, errOut, "Warning")
		_, errOut = ok("context", "use", "default")
		assert.NotContains(t, errOut, "Warning")
		ok("context", "use", "lab")
	})

	// rm: the current one only with -f, default never.
	fails(`context "lab" is in use, set -f flag to force remove`, "context", "rm", "lab")
	fails(`context "default" cannot be removed`, "context", "rm", "default")
	out, errOut, code = plugdbg(t, "context", "rm", "lab2", "nope", "insecure")
	assert.Equal(t, 1, code)
	assert.Equal(t, "lab2\ninsecure\n", out)
	assert.Equal(t, "Error: context \"nope\" does not exist\n", errOut)
	out, _ = ok("context", "rm", "-f", "lab", "nope")
	assert.Equal(t, "lab\nnope\n", out)
	out, _ = ok("context", "show")
	assert.Equal(t, "default\n", out, "removing the current context makes the default current")
	b, err := os.ReadFile(filepath.Join(cfg, "config.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "currentContext")
	out, _ = ok("context", "ls", "-q")
	assert.Equal(t, "default\nprod\n", out)
	fails(`context "lab" does not exist`, "context", "use", "lab")
	fails("invalid context name", "context", "use", "no/such")
}

// pki is a CA, a daemon certificate and a client certificate it signed:
// PEM files in a directory, as PLUGDBG_CERT_PATH holds them.
type pki struct {
	dir        string
	serverCert tls.Certificate
	pool       *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	p := pki{dir: t.TempDir(), pool: x509.NewCertPool()}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plugdbg test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	p.pool.AddCert(ca)
	write := func(name string, typ string, der []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(p.dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	}
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		kb, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return der, kb
	}
	der, kb := issue(2, x509.ExtKeyUsageServerAuth)
	p.serverCert, err = tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	require.NoError(t, err)
	der, kb = issue(3, x509.ExtKeyUsageClientAuth)
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "EC PRIVATE KEY", kb)
	return p
}

// TestTLSFlags: the TLS flags and variables reach a daemon that demands a
// client certificate, and so does a context made from them.
func TestTLSFlags(t *testing.T) {
	cliEnv(t)
	p := newPKI(t)
	srv := httptest.NewUnstartedServer(versionHandler("tls"))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refusals below are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := "tcp://" + srv.Listener.Addr().String()
	ca, cert, key := filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "cert.pem"), filepath.Join(p.dir, "key.pem")

	assert.Equal(t, "tls", reached(t, "-H", host, "--tlsverify", "--tlscacert", ca, "--tlscert", cert, "--tlskey", key))
	t.Run("PLUGDBG_CERT_PATH and PLUGDBG_TLS_VERIFY", func(t *testing.T) {
		t.Setenv("PLUGDBG_CERT_PATH", p.dir)
		t.Setenv("PLUGDBG_TLS_VERIFY", "1")
		t.Setenv("PLUGDBG_HOST", host)
		assert.Equal(t, "tls", reached(t))
		// and a context made of them
		_, errOut, code := plugdbg(t, "context", "create", "fromenv", "--from", "default")
		require.Equal(t, 0, code, errOut)
	})
	t.Run("the config directory holds the default files", func(t *testing.T) {
		t.Setenv("PLUGDBG_CONFIG", p.dir)
		assert.Equal(t, "tls", reached(t, "-H", host, "--tlsverify"))
	})
	assert.Equal(t, "tls", reached(t, "--context", "fromenv"))
	_, errOut, code := plugdbg(t, "context", "create", "lab", "--host", host, "--tlscacert", ca, "--tlscert", cert, "--tlskey", key)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "tls", reached(t, "--context", "lab"))

	// Refusals: no client certificate, a daemon the CA did not sign, plain TCP.
	_, errOut, code = plugdbg(t, "-H", host, "--tlsverify", "--tlscacert", ca, "version")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "certificate required")
	other := newPKI(t)
	_, errOut, code = plugdbg(t, "-H", host, "--tlsverify", "--tlscacert", filepath.Join(other.dir, "ca.pem"), "--tlscert", cert, "--tlskey", key, "version")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "certificate signed by unknown authority")
	_, _, code = plugdbg(t, "-H", host, "version")
	assert.Equal(t, 1, code)
	// --tls does not check the daemon: another CA's file does not matter.
	assert.Equal(t, "tls", reached(t, "-H", host, "--tls", "--tlscacert", filepath.Join(other.dir, "ca.pem"), "--tlscert", cert, "--tlskey", key))

	// Errors name the flag and the file.
	empty := t.TempDir()
	t.Setenv("PLUGDBG_CERT_PATH", empty)
	_, errOut, code = plugdbg(t, "-H", host, "--tlsverify", "version")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--tlscacert (default: ca.pem in $PLUGDBG_CERT_PATH): open "+filepath.Join(empty, "ca.pem"))
	_, errOut, code = plugdbg(t, "-H", host, "--tls", "--tlskey", filepath.Join(empty, "k.pem"), "version")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--tlskey: open "+filepath.Join(empty, "k.pem"))
	// TLS settings do not apply to a unix socket, so they cannot break it.
	sock := fakeDaemon(t, "local")
	t.Setenv("PLUGDBG_TLS_VERIFY", "1")
	assert.Equal(t, "local", reached(t, "-H", sock))
}
