package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
)

// TestDaemonKilledBeforeRemoveDeleted: rm answers once the plugin's
// directory is renamed aside to <id>-removing, durably, and its files are
// deleted after the answer. A daemon killed between the rename and the
// delete (held here with fanotify on the directory's first open by that
// name, which is the delete's) leaves the renamed directory; the next
// daemon deletes it at start, the plugin stays removed, and nothing of it
// is left anywhere.
func TestDaemonKilledBeforeRemoveDeleted(t *testing.T) {
	d := startDaemon(t)
	id := d.create(t, "vol", "volume").ID
	// A run leaves logs, a monitor dir and a propagated mount behind it.
	d.enable(t, "vol")
	require.NoError(t, d.client.Disable(testCtx(t), "vol", false))
	held, release := holdOpen(t, d.storeDir(id), "-removing")

	require.NoError(t, d.client.Remove(testCtx(t), "vol", false), "rm answers before the files are deleted")
	select {
	case path := <-held:
		t.Logf("the delete holds in the open of %s", path)
	case <-time.After(waitTimeout):
		require.FailNow(t, "the removed plugin's directory was never opened to be deleted")
	}
	assert.NoDirExists(t, d.storeDir(id))
	assert.DirExists(t, d.storeDir(id)+"-removing")
	d.kill9()
	release()

	d.start()
	_, err := d.client.Inspect(testCtx(t), id)
	assert.True(t, client.IsNotFound(err), "inspect of the removed plugin after the restart: %v", err)
	assert.NoDirExists(t, d.storeDir(id)+"-removing", "swept at start")
	for _, problem := range d.reconciled(t, []string{id}) {
		t.Error(problem)
	}
	// The name is free again.
	d.create(t, "vol", "volume")
}
