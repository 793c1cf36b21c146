package main

import (
	"archive/tar"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// received is what the test's daemon saw of one request.
type received struct {
	method, uri, contentType string
	body                     []byte
}

// serve answers every request on a unix socket in a temp dir with status
// and answer, and hands what it received to the returned channel.
func serve(t *testing.T, status int, answer string) (string, <-chan received) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	got := make(chan received, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.RequestURI, r.Header.Get("Content-Type"), body}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock, got
}

func TestStepsSendDockersRequests(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{}`), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "bin", "p"), []byte("x"), 0o755))

	for _, tc := range []struct {
		step, method, uri string
	}{
		{"create", http.MethodPost, "/v1.41/plugins/create?name=my%2Fvol%3Alatest"},
		{"enable", http.MethodPost, "/v1.41/plugins/my%2Fvol:latest/enable?timeout=30"},
		{"disable", http.MethodPost, "/v1.41/plugins/my%2Fvol:latest/disable"},
		{"rm", http.MethodDelete, "/v1.41/plugins/my%2Fvol:latest"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			sock, got := serve(t, http.StatusOK, "")
			method, path, body, err := stepRequest(tc.step, "my/vol:latest", dir)
			require.NoError(t, err)
			took, err := caller{socket: sock, timeout: 10 * time.Second}.call(method, path, body)
			require.NoError(t, err)
			assert.Positive(t, took)
			r := <-got
			assert.Equal(t, tc.method, r.method)
			assert.Equal(t, tc.uri, r.uri)
			if tc.step != "create" {
				assert.Empty(t, r.body)
				return
			}
			assert.Equal(t, "application/x-tar", r.contentType)
			var names []string
			tr := tar.NewReader(bytes.NewReader(r.body))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				names = append(names, h.Name)
			}
			assert.Equal(t, []string{"config.json", "rootfs/", "rootfs/bin/", "rootfs/bin/p"}, names)
		})
	}
}

func TestStepFailures(t *testing.T) {
	_, _, _, err := stepRequest("start", "vol", "")
	assert.ErrorContains(t, err, `unknown -step "start"`)
	_, _, _, err = stepRequest("create", "vol", filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "pack ")

	// A refusal is an error that carries the daemon's answer, not a figure.
	sock, _ := serve(t, http.StatusConflict, `{"message":"plugin vol:latest is enabled"}`)
	_, err = caller{socket: sock, timeout: 10 * time.Second}.call(http.MethodDelete, "/plugins/vol?force=0", nil)
	assert.ErrorContains(t, err, "409 Conflict")
	assert.ErrorContains(t, err, "plugin vol:latest is enabled")
}
