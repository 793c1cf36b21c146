package integration

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProbeDiagnoses: what a user mistypes at probe is told precisely, on
// real plugins run by a real daemon.
func TestProbeDiagnoses(t *testing.T) {
	d := probePlugins(t)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string // substrings of stderr
	}{
		{
			name: "a misspelt method gets a suggestion", args: []string{"probe", "vol", "VolumeDriver.Lst"},
			wantCode: 1, wantErr: []string{`unknown method "VolumeDriver.Lst"; did you mean VolumeDriver.List?`},
		},
		{
			name: "a misspelt interface too", args: []string{"probe", "ipam", "IpamDrivr.RequestPool"},
			wantCode: 1, wantErr: []string{"did you mean IpamDriver.RequestPool?"},
		},
		{
			name: "a method where the plugin belongs", args: []string{"probe", "VolumeDriver.List"},
			wantCode: 1, wantErr: []string{
				"Error: no plugin given: VolumeDriver.List is a method",
				"\n\nUsage:  plugdbg probe [PLUGIN] METHOD [BODY] [KEY=VALUE...]",
				"See 'plugdbg probe --help'",
			},
		},
		{
			name: "an interface the plugin does not implement", args: []string{"probe", "vol", "NetworkDriver.GetCapabilities"},
			wantCode: 3, wantErr: []string{
				"NetworkDriver.GetCapabilities: HTTP 404",
				"vol does not implement NetworkDriver (it implements VolumeDriver); see plugdbg probe --list vol",
			},
		},
		{
			name: "authz's Implements name", args: []string{"probe", "authz", "VolumeDriver.List"},
			wantCode: 3, wantErr: []string{"authz does not implement VolumeDriver (it implements authz); see plugdbg probe --list authz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := d.cli(t, tt.args...)
			assert.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, s := range tt.wantErr {
				assert.Contains(t, stderr, s)
			}
		})
	}

	t.Run("--list shows what it implements", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "probe", "--list", "vol")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "Implements: VolumeDriver\n")
	})
}

// TestCheckWarnings: warnings alone pass check, as a linter's do, and
// fail it under --strict; the verdict is printed as it is, never as
// "Error:". The plugin is the real vol, behind a proxy that makes its
// Capabilities answer a scope dockerd does not know (a warning, the only
// one).
func TestCheckWarnings(t *testing.T) {
	d := probePlugins(t)
	volSock := d.inspect(t, "vol").State.Socket
	require.NotEmpty(t, volSock)
	proxy := scopeProxy(t, volSock)

	t.Run("warnings pass", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "check", "--socket", proxy)
		assert.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Regexp(t, `(?m)^  WARN +Capabilities +VolumeDriver\.Capabilities .*"cluster" is not one of`, stdout)
		assert.Regexp(t, `\n\d+ passed, 0 failed, 1 warnings, \d+ skipped\n$`, stdout)
		assert.Empty(t, stderr)
	})

	t.Run("--strict fails on them", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "check", "--strict", "--socket", proxy)
		assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Equal(t, "unix://"+proxy+": 0 failed, 1 with warnings (--strict)\n", stderr)
	})

	t.Run("failures fail, without Error:", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "check", "bad")
		assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Regexp(t, `^unix://\S+: [1-9]\d* failed, [1-9]\d* with warnings\n$`, stderr)
		assert.NotContains(t, stderr, "Error")
	})

	t.Run("a conforming plugin passes --strict", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "check", "--strict", "vol")
		assert.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	})

	t.Run("a method where the plugin belongs", func(t *testing.T) {
		_, stderr, code := d.cli(t, "check", "VolumeDriver.List")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "no plugin given")
		assert.Contains(t, stderr, "Usage:  plugdbg check [PLUGIN]")
	})
}

// scopeProxy serves, on a socket of its own, the plugin listening on sock,
// with VolumeDriver.Capabilities answering scope "cluster", and returns
// the proxy's socket.
func scopeProxy(t *testing.T, sock string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "plugin"})
	rp.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/VolumeDriver.Capabilities" {
			return nil
		}
		body := []byte(`{"Capabilities":{"Scope":"cluster"}}`)
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return path
}
