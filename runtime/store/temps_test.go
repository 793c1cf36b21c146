package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/store"
)

// TestOpenRemovesHalfWrittenState: a state write a crash interrupted leaves
// its temporary file beside the state, which stands as it was.
func TestOpenRemovesHalfWrittenState(t *testing.T) {
	s, dir := openStore(t)
	pid := id('a')
	p := testPlugin(pid, "keep:latest")
	create(t, s, p)
	pdir := s.Dir(pid)
	for _, name := range []string{".config.json.tmp-123", ".plugdbg-opts.json.tmp-9"} {
		require.NoError(t, os.WriteFile(filepath.Join(pdir, name), []byte(`{"plugin":`), 0o600))
	}
	// Not temporary files of a state write.
	require.NoError(t, os.WriteFile(filepath.Join(pdir, "notes.tmp-1"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(s.Rootfs(pid), ".profile.tmp-1"), []byte("x"), 0o600))

	s, err := store.Open(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"config.json", "notes.tmp-1", "rootfs"}, names(t, pdir))
	assert.FileExists(t, filepath.Join(s.Rootfs(pid), ".profile.tmp-1"), "the plugin's own files are not the store's")
	recs, err := s.Load()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, p.Settings.Env, recs[0].Plugin.Settings.Env)
}
