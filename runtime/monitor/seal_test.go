package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/exeseal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeal: after Seal, what the launcher execs is a sealed memfd copy of
// its binary (the kind libcontainer takes as already safe), which runs as
// the binary does and cannot be written; Close drops it.
func TestSeal(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	l := &Launcher{Binary: sh, Root: t.TempDir()}
	assert.Equal(t, sh, l.exe(), "unsealed, monitors run from the binary")
	require.NoError(t, l.Seal())

	path := l.exe()
	require.True(t, strings.HasPrefix(path, "/proc/self/fd/"), path)
	assert.True(t, exeseal.IsCloned(l.sealed), "the copy carries the seals libcontainer checks for")
	_, err = l.sealed.Write([]byte("x"))
	assert.Error(t, err, "a sealed copy cannot be written")

	out, err := exec.Command(path, "-c", "echo ran; readlink /proc/$$/exe").Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 2, string(out))
	assert.Equal(t, "ran", lines[0])
	assert.Equal(t, "/memfd:runc_cloned:"+filepath.Base(sh)+" (deleted)", lines[1])

	l.Close()
	assert.Equal(t, sh, l.exe(), "after Close, monitors run from the binary again")
}

// TestSealMissingBinary: a binary that cannot be read leaves the launcher
// unsealed, with an error naming it.
func TestSealMissingBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	l := &Launcher{Binary: missing, Root: t.TempDir()}
	err := l.Seal()
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, missing, l.exe())
}

// TestInitOneProc: the container's init gets GOMAXPROCS=1 unless the
// monitor's environment already sets it, which then wins.
func TestInitOneProc(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	initOneProc()
	assert.Equal(t, "1", os.Getenv("GOMAXPROCS"))

	t.Setenv("GOMAXPROCS", "3")
	initOneProc()
	assert.Equal(t, "3", os.Getenv("GOMAXPROCS"), "a value the operator set is kept")
}
