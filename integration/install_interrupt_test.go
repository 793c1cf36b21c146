package integration

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestInstallInterrupted: an install stopped halfway, by ^C on the CLI or
// by the daemon being killed, leaves no plugin and no staging directory.
func TestInstallInterrupted(t *testing.T) {
	d := startDaemon(t)
	var stall atomic.Bool
	var layerPath atomic.Value // "/blobs/<layer digest>"
	layerPath.Store("none")
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	reg, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stall.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, layerPath.Load().(string)) {
				// The layer download stalls until the client goes away.
				started <- struct{}{}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(release) })
	ref := reg + "/slow/vol:latest"
	d.create(t, ref, "volume")
	d.ok(t, "push", ref)
	d.ok(t, "rm", ref)
	rf, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(rf)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	layerPath.Store("/blobs/" + m.Layers[0].Digest.String())
	stall.Store(true)

	// installing starts `plugdbg install` and returns once its layer
	// download has begun.
	installing := func(t *testing.T) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(plugdbgBin, "install", "--grant-all-permissions", ref)
		cmd.Env = append(cmd.Environ(), "PLUGDBG_HOST="+d.host)
		require.NoError(t, cmd.Start())
		select {
		case <-started:
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			require.FailNow(t, "the install never fetched its layer")
		}
		eventually(t, func() bool { return len(d.storeLeftovers(t)) == 1 }, waitTimeout, "a staging dir while the layer downloads")
		return cmd
	}

	t.Run("interrupt the CLI", func(t *testing.T) {
		cmd := installing(t)
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		err := cmd.Wait()
		assert.Error(t, err, "an interrupted install fails")
		eventually(t, func() bool { return len(d.storeLeftovers(t)) == 0 }, waitTimeout, "the staging dir is removed")
		list, err := d.client.List(context.Background(), client.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list)
	})

	t.Run("kill the daemon", func(t *testing.T) {
		cmd := installing(t)
		d.kill9()
		_ = cmd.Wait()
		d.start()
		assert.Empty(t, d.storeLeftovers(t), "the restarted daemon removes the staging dir")
		list, err := d.client.List(context.Background(), client.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list)
	})

	stall.Store(false)
	d.ok(t, "install", "--grant-all-permissions", ref)
	assert.True(t, d.inspect(t, ref).Enabled)
}
