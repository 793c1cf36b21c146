package integration

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestInstallFromSilentRegistry: with the daemon's --registry-timeout, an
// install from a registry that accepts connections and never answers, and
// one from a registry that stops in the middle of a layer, fail with the
// registry and the step and leave nothing behind; the daemon is not stuck
// and installs once the registry answers again. An out-of-range bound
// stops the daemon from starting.
func TestInstallFromSilentRegistry(t *testing.T) {
	stdout, stderr, code := runCommand(t, exec.Command(plugdbgdBin, "--registry-timeout", "0s",
		"--data-root", t.TempDir(), "--exec-root", t.TempDir(), "--ui-addr", ""))
	require.NotEqual(t, 0, code, "daemon started with --registry-timeout 0s: %s", stdout)
	assert.Contains(t, stderr, "invalid --registry-timeout: 0s is out of range: it must be more than 0 and at most 10m0s")

	// The steps meant to succeed run with the default bound, so that a
	// slow machine cannot make them time out; the silent registries get a
	// short one.
	d := startDaemon(t)
	short := func() { d.stop(); d.startWith("--registry-timeout", "2s") }
	normal := func() { d.stop(); d.start() }

	silent := testregistry.Silent(t)
	short()
	stderr = d.fails(t, "install", "--grant-all-permissions", silent+"/silent/vol:latest")
	assert.Contains(t, stderr, "registry "+silent+": no answer (headers) within 2s")
	assert.Empty(t, d.storeLeftovers(t))

	var stall atomic.Bool
	reg, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !stall.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			if len(body) <= 1000 { // the config blob is small
				_, _ = w.Write(body)
				return
			}
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the daemon gives up
		})
	})
	ref := reg + "/stall/vol:latest"
	normal()
	d.create(t, ref, "volume")
	d.ok(t, "push", ref)
	d.ok(t, "rm", ref)

	stall.Store(true)
	short()
	stderr = d.fails(t, "install", "--grant-all-permissions", ref)
	assert.Contains(t, stderr, "fetch layer")
	assert.Contains(t, stderr, "registry "+reg+": no answer (body) within 2s")
	assert.Empty(t, d.storeLeftovers(t))

	stall.Store(false)
	normal()
	d.ok(t, "install", "--grant-all-permissions", ref)
	assert.True(t, d.inspect(t, ref).Enabled)
}
