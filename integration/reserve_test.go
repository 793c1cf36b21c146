package integration

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
)

// TestDisableWithDataRootFull: a plugin whose output fills the data root's
// filesystem leaves the daemon's reserve free, so that disable is saved;
// inspect and what runs agree, before and after a daemon restart.
func TestDisableWithDataRootFull(t *testing.T) {
	// The data root holds the flood plugin's rootfs (~6 MB), the reserve
	// and what the plugin writes until the reserve is reached: kept small,
	// since a race build under load writes slowly.
	const size, reserve = 16 << 20, 4 << 20
	d := newDaemon(t)
	require.NoError(t, os.MkdirAll(d.dataRoot, 0o700))
	require.NoError(t, unix.Mount("tmpfs", d.dataRoot, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0700"))
	// d's cleanup unmounts what is mounted under its directory.
	d.startWith("--log-reserve", strconv.Itoa(reserve), "--log-max-size", strconv.Itoa(1<<30))
	free := func() int64 {
		var st unix.Statfs_t
		require.NoError(t, unix.Statfs(d.dataRoot, &st))
		return int64(st.Bfree) * st.Bsize
	}

	id := d.create(t, "fill", "flood", "RATE=0", "DURATION=0", "LINE_BYTES=4000").ID
	p := d.enable(t, "fill")
	eventually(t, func() bool { return d.inspect(t, "fill").State.UnstoredLines > 0 },
		2*waitTimeout, "the plugin's lines stop being stored")
	t.Logf("free on the data root once lines are no longer stored: %d bytes (reserve %d)", free(), reserve)
	assert.GreaterOrEqual(t, free(), int64(reserve)/2, "the log left the reserve (less what state took since)")

	d.ok(t, "disable", "fill")
	q := d.inspect(t, "fill")
	assert.False(t, q.Enabled)
	assert.Equal(t, types.StatusDisabled, q.State.Status)
	assert.False(t, alive(p.State.Pid), "the plugin's container still runs")
	assert.Empty(t, d.monitorPids(id), "the plugin's monitor still runs")

	// The store says what inspect said: a restarted daemon leaves it disabled.
	d.restart()
	q = d.inspect(t, "fill")
	assert.False(t, q.Enabled, "disabled before the restart, enabled after it")
	assert.Equal(t, types.StatusDisabled, q.State.Status)
	assert.Empty(t, d.monitorPids(id))
	assert.NoDirExists(t, d.containerStateDir(id))
}
