package dockerobserve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockFile: a held lock is busy for another taker; unlock removes the
// file before releasing it, so the next taker gets a new file, and the
// lock.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, err := lockFile(path)
	require.NoError(t, err)
	_, err = lockFile(path)
	assert.ErrorIs(t, err, errBusy)

	unlock(path, held)
	assert.NoFileExists(t, path)
	again, err := lockFile(path)
	require.NoError(t, err)
	defer unlock(path, again)
	assert.FileExists(t, path)
}

// TestLockFileReplaced: a lock taken on a file that its holder unlinked
// meanwhile locks nothing, and is taken again on the file at the path.
func TestLockFileReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	old, err := os.Create(path)
	require.NoError(t, err)
	defer old.Close()
	held, err := lockFile(path)
	require.NoError(t, err)
	fi, err := held.Stat()
	require.NoError(t, err)
	now, err := os.Lstat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi, now))
	unlock(path, held)
}

func TestConfigCheck(t *testing.T) {
	id := strings.Repeat("0a", 32)
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "": valid
	}{
		{name: "valid", cfg: Config{ID: id, Socket: "/run/docker/plugins/" + id + "/p.sock"}},
		{name: "bad ID", cfg: Config{ID: "abc", Socket: "/run/docker/plugins/abc/p.sock"}, want: "invalid plugin ID"},
		{name: "relative", cfg: Config{ID: id, Socket: "run/" + id + "/p.sock"}, want: "clean absolute path"},
		{name: "unclean", cfg: Config{ID: id, Socket: "/run/../run/" + id + "/p.sock"}, want: "clean absolute path"},
		{name: "subdirectory", cfg: Config{ID: id, Socket: "/run/docker/plugins/" + id + "/sub/p.sock"}, want: "not directly in the plugin's directory"},
		{name: "another plugin's directory", cfg: Config{ID: id, Socket: "/run/docker/plugins/other/p.sock"}, want: "not directly in the plugin's directory"},
		{name: "too long", cfg: Config{ID: id, Socket: "/" + strings.Repeat("r", 40) + "/" + id + "/p.sock"}, want: "over the 107"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.check()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCheckDir(t *testing.T) {
	assert.NoError(t, checkDir("/run/plugdbg/docker-observe"))
	assert.NoError(t, checkDir("/"+strings.Repeat("d", 68)), "69 bytes: the socket's path is 107")
	err := checkDir("/" + strings.Repeat("d", 69))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use a shorter --exec-root")
}
