package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

func TestTemps(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, atomicfile.Write(filepath.Join(dir, "state.json"), []byte("{}"), 0o600))
	assert.Empty(t, atomicfile.Temps(dir), "a finished write leaves no temporary file")

	for _, name := range []string{
		".state.json.tmp-123",   // what Write leaves when killed before its rename
		".exit.json.tmp-4",      // another target
		"state.json.tmp-1",      // no leading dot: not Write's
		".tmp-5",                // no target name
		".state.json.tmp-",      // no suffix
		".state.json.tmpfile-1", // another pattern
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".d.tmp-1"), 0o700)) // a directory
	assert.ElementsMatch(t, []string{
		filepath.Join(dir, ".state.json.tmp-123"),
		filepath.Join(dir, ".exit.json.tmp-4"),
	}, atomicfile.Temps(dir))
	assert.Empty(t, atomicfile.Temps(filepath.Join(dir, "missing")))
}
