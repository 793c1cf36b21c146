package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindDaemon(t *testing.T) {
	bin := t.TempDir()
	self := filepath.Join(bin, "plugdbg")
	require.NoError(t, os.WriteFile(self, nil, 0o755))
	onPath := func(string) (string, error) { return "/somewhere/plugdbgd", nil }
	notOnPath := func(string) (string, error) { return "", exec.ErrNotFound }

	path, err := findDaemon(self, onPath)
	require.NoError(t, err)
	assert.Equal(t, "/somewhere/plugdbgd", path, "nothing beside plugdbg: PATH's")
	_, err = findDaemon(self, notOnPath)
	assert.ErrorContains(t, err, "plugdbgd, and there is none at "+filepath.Join(bin, "plugdbgd")+" nor on PATH")
	_, err = findDaemon("", notOnPath)
	assert.ErrorContains(t, err, "none on PATH")

	beside := filepath.Join(bin, "plugdbgd")
	require.NoError(t, os.WriteFile(beside, nil, 0o644))
	_, err = findDaemon(self, notOnPath)
	assert.Error(t, err, "a plugdbgd that is not executable is not run")
	require.NoError(t, os.Chmod(beside, 0o755))
	path, err = findDaemon(self, onPath)
	require.NoError(t, err)
	assert.Equal(t, beside, path, "the one beside plugdbg comes first")

	link := filepath.Join(t.TempDir(), "plugdbg")
	require.NoError(t, os.Symlink(self, link))
	path, err = findDaemon(link, func(string) (string, error) { return "", errors.New("not searched") })
	require.NoError(t, err)
	assert.Equal(t, beside, path, "beside the real plugdbg, not its symlink")
}
