package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

// TestConcurrency runs lifecycle operations at the same time through the
// API: the daemon must serialise them per plugin and end in a consistent
// state.
func TestConcurrency(t *testing.T) {
	d := startDaemon(t)

	t.Run("two enables", func(t *testing.T) {
		p := d.create(t, "twice", "volume")
		errs := parallel(2, func(int) error { return d.client.Enable(testCtx(t), "twice", 0) })
		var ok, conflicts int
		for _, err := range errs {
			var ce *client.Error
			switch {
			case err == nil:
				ok++
			case assert.ErrorAs(t, err, &ce):
				assert.Equal(t, 409, ce.Status)
				assert.Contains(t, ce.Message, "plugin already enabled: plugin twice:latest is enabled")
				conflicts++
			}
		}
		assert.Equal(t, 1, ok, "enables that succeeded: %v", errs)
		assert.Equal(t, 1, conflicts, "enables that got a conflict: %v", errs)
		q := d.inspect(t, "twice")
		assert.Equal(t, types.StatusRunning, q.State.Status)
		assert.True(t, alive(q.State.Pid))
		assert.Len(t, d.monitorPids(p.ID), 1, "monitors")
		assert.Equal(t, 1, containerCount(t, d), "containers")
		assert.Equal(t, []string{}, volumeNames(t, q.State.Socket))
		require.NoError(t, d.client.Remove(testCtx(t), "twice", true))
		assertGone(t, d, p.ID)
	})

	t.Run("two creates of one name", func(t *testing.T) {
		before := d.storeSnapshot(t)
		errs := parallel(2, func(int) error { return d.client.CreateFromDir(testCtx(t), "dup", pluginDir("volume")) })
		var ok, conflicts int
		for _, err := range errs {
			var ce *client.Error
			switch {
			case err == nil:
				ok++
			case assert.ErrorAs(t, err, &ce):
				assert.Equal(t, 409, ce.Status)
				assert.Equal(t, "plugin dup:latest already exists", ce.Message)
				conflicts++
			}
		}
		assert.Equal(t, 1, ok, "creates that succeeded: %v", errs)
		assert.Equal(t, 1, conflicts, "creates that got a conflict: %v", errs)
		list, err := d.client.List(testCtx(t), client.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		after := d.storeSnapshot(t)
		assert.Len(t, after, len(before)+1, "one new store entry: before %v, after %v", before, after)
		require.NoError(t, d.client.Remove(testCtx(t), "dup", false))
	})

	t.Run("enable racing rm -f", func(t *testing.T) {
		for i := range 5 {
			name := fmt.Sprintf("race%d", i)
			id := d.create(t, name, "volume").ID
			errs := parallel(2, func(n int) error {
				if n == 0 {
					return d.client.Enable(testCtx(t), name, 0)
				}
				return d.client.Remove(testCtx(t), name, true)
			})
			enableErr, rmErr := errs[0], errs[1]
			t.Logf("%s: enable: %v; rm -f: %v", name, enableErr, rmErr)
			if enableErr != nil {
				assert.True(t, client.IsNotFound(enableErr), "enable lost the race but did not get 'not found': %v", enableErr)
			}
			p, err := d.client.Inspect(testCtx(t), id)
			if client.IsNotFound(err) {
				assert.NoError(t, rmErr)
				assertGone(t, d, id)
				continue
			}
			// The plugin survived: rm -f failed, and its state must add up.
			require.NoError(t, err)
			assert.Error(t, rmErr, "rm -f succeeded but the plugin is still there")
			if p.Enabled {
				assert.Equal(t, types.StatusRunning, p.State.Status)
				assert.Len(t, d.monitorPids(id), 1)
				assert.DirExists(t, d.socketDir(id))
			} else {
				assertMonitorGone(t, d, id)
				assert.NoDirExists(t, d.socketDir(id))
			}
		}
		assert.Equal(t, 0, containerCount(t, d), "containers left")
	})

	t.Run("five plugins at once", func(t *testing.T) {
		const n = 5
		errs := parallel(n, func(i int) error {
			name := fmt.Sprintf("multi%d", i)
			if err := d.client.CreateFromDir(testCtx(t), name, pluginDir("volume")); err != nil {
				return fmt.Errorf("create %s: %w", name, err)
			}
			if err := d.client.Enable(testCtx(t), name, 0); err != nil {
				return fmt.Errorf("enable %s: %w", name, err)
			}
			return nil
		})
		for _, err := range errs {
			assert.NoError(t, err)
		}
		list, err := d.client.List(testCtx(t), client.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list, n)
		pids := map[int]bool{}
		for i, p := range list {
			assert.Equal(t, fmt.Sprintf("multi%d:latest", i), p.Name)
			assert.True(t, p.Enabled)
			assert.Equal(t, types.StatusRunning, p.State.Status)
			assert.True(t, alive(p.State.Pid))
			pids[p.State.Pid] = true
			assert.Len(t, d.monitorPids(p.ID), 1)
			vol := "only-in-" + p.Name[:len("multiN")]
			createVolume(t, p.State.Socket, vol)
			assert.Equal(t, []string{vol}, volumeNames(t, p.State.Socket), "each plugin has its own propagated mount")
		}
		assert.Len(t, pids, n, "distinct container pids")
		assert.Equal(t, n, containerCount(t, d))

		errs = parallel(n, func(i int) error { return d.client.Remove(testCtx(t), list[i].ID, true) })
		for _, err := range errs {
			assert.NoError(t, err)
		}
		for _, p := range list {
			assertGone(t, d, p.ID)
		}
	})
}

// parallel runs f(0..n-1) at the same time, released together, and returns
// their errors by index.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			errs[i] = f(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// containerCount counts the libcontainer containers the daemon has.
func containerCount(t *testing.T, d *daemon) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(d.execRoot, "runc"))
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// assertGone checks that nothing of plugin id is left: no store dir, socket
// dir, monitor, container or mount.
func assertGone(t *testing.T, d *daemon, id string) {
	t.Helper()
	assert.NoDirExists(t, d.storeDir(id))
	assert.NoDirExists(t, d.socketDir(id))
	assert.NoDirExists(t, d.monitorDir(id))
	assert.NoDirExists(t, d.containerStateDir(id))
	assertMonitorGone(t, d, id)
	assert.Empty(t, mountsUnder(d.storeDir(id)))
	_, err := d.client.Inspect(testCtx(t), id)
	assert.True(t, client.IsNotFound(err), "inspect removed plugin: %v", err)
}
