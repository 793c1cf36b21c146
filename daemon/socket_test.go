package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/webui"
)

// TestSocketGroup: --group as dockerd's: a name or a gid; the default
// group only if it exists; a group asked for by name must exist.
func TestSocketGroup(t *testing.T) {
	tests := []struct {
		name     string
		group    string
		required bool
		gid      int
		ok       bool
		err      string
	}{
		{name: "none", group: "", required: true},
		{name: "root by name", group: "root", required: true, gid: 0, ok: true},
		{name: "gid", group: "4242", required: true, gid: 4242, ok: true},
		{name: "default missing", group: "plugdbg-no-such-group", required: false},
		{name: "given missing", group: "plugdbg-no-such-group", required: true, err: `invalid --group "plugdbg-no-such-group": no such group`},
		{name: "negative gid", group: "-1", required: true, err: "invalid --group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gid, ok, err := socketGroup(tt.group, tt.required)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.gid, gid)
		})
	}
}

// TestLockRootsNamesHolder: a second lock on a root says which daemon
// holds it, from the pid the holder wrote into the lock file.
func TestLockRootsNamesHolder(t *testing.T) {
	root := t.TempDir()
	unlock, err := lockRoots(root)
	require.NoError(t, err)
	defer unlock()
	b, err := os.ReadFile(filepath.Join(root, "plugdbg.lock"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))

	_, err = lockRoots(root)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugdbgd is already running (pid "+strconv.Itoa(os.Getpid())+") on "+root)
}

// TestRemoveStaleToken: a token a killed daemon left is gone before the
// next one serves; none at all is fine.
func TestRemoveStaleToken(t *testing.T) {
	dir := t.TempDir()
	_, err := webui.WriteToken(dir, "stale")
	require.NoError(t, err)
	require.NoError(t, removeStaleToken(dir))
	assert.NoFileExists(t, filepath.Join(dir, webui.TokenFile))
	require.NoError(t, removeStaleToken(dir))
}
