package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/store"
)

// newRootfs makes a staging rootfs holding one file with body.
func newRootfs(t *testing.T, s *store.Store, body string) string {
	t.Helper()
	staging, err := s.NewStaging()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(staging, "rootfs", "file"), []byte(body), 0o644))
	return filepath.Join(staging, "rootfs")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func TestUpgrade(t *testing.T) {
	s, _ := openStore(t)
	p := testPlugin(id('a'), "p:latest")
	create(t, s, p)
	p.Config.Description = "new"
	require.NoError(t, s.Upgrade(p, newRootfs(t, s, "v2")))
	assert.Equal(t, "v2", readFile(t, filepath.Join(s.Rootfs(p.ID), "file")))
	assert.Equal(t, []string{"config.json", "rootfs"}, names(t, s.Dir(p.ID)))
	recs, err := s.Load()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "new", recs[0].Plugin.Config.Description)
}

// TestUpgradeCrashRecovery: Open undoes an upgrade that had not committed
// and finishes one that had, whatever step the crash came after.
func TestUpgradeCrashRecovery(t *testing.T) {
	tests := []struct {
		name string
		// crash leaves the directory as a crash after some step would.
		crash    func(t *testing.T, dir string)
		wantFile string
		wantDesc string
	}{
		{
			name: "after writing the new state",
			crash: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "upgrade.json"), []byte("{}"), 0o600))
			},
			wantFile: "p:latest", wantDesc: "test p:latest",
		},
		{
			name: "after moving the old rootfs away",
			crash: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "upgrade.json"), []byte("{}"), 0o600))
				require.NoError(t, os.Rename(filepath.Join(dir, "rootfs"), filepath.Join(dir, "rootfs-old")))
			},
			wantFile: "p:latest", wantDesc: "test p:latest",
		},
		{
			name: "after moving the new rootfs in",
			crash: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "upgrade.json"), []byte("{}"), 0o600))
				require.NoError(t, os.Rename(filepath.Join(dir, "rootfs"), filepath.Join(dir, "rootfs-old")))
				require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "file"), []byte("v2"), 0o644))
			},
			wantFile: "p:latest", wantDesc: "test p:latest",
		},
		{
			name: "after the commit, before the old rootfs is gone",
			crash: func(t *testing.T, dir string) {
				require.NoError(t, os.Rename(filepath.Join(dir, "rootfs"), filepath.Join(dir, "rootfs-old")))
				require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "file"), []byte("v2"), 0o644))
			},
			wantFile: "v2", wantDesc: "test p:latest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			p := testPlugin(id('b'), "p:latest")
			create(t, s, p)
			tt.crash(t, s.Dir(p.ID))
			s, err := store.Open(dir)
			require.NoError(t, err)
			assert.Equal(t, tt.wantFile, readFile(t, filepath.Join(s.Rootfs(p.ID), "file")))
			assert.Equal(t, []string{"config.json", "rootfs"}, names(t, s.Dir(p.ID)))
			recs, err := s.Load()
			require.NoError(t, err)
			require.Len(t, recs, 1)
			assert.Equal(t, tt.wantDesc, recs[0].Plugin.Config.Description)
		})
	}
}
