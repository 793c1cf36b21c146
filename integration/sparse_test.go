package integration

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCreateGNUSparseContext posts a build context made by
// `tar --sparse --format=gnu`, whose rootfs holds a sparse file in the old
// GNU format (entry type 'S'), and checks that the plugin's rootfs has the
// file, whole. Such a file used to be dropped without a word.
func TestCreateGNUSparseContext(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skipf("no tar to build the context with (%v)", err)
	}
	d := startDaemon(t)

	src := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(pluginDir("volume"), "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(src, "config.json"), cfg, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(src, "rootfs", "data"), 0o755))
	bin, err := os.ReadFile(filepath.Join(pluginDir("volume"), "rootfs", "pdvol"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(src, "rootfs", "pdvol"), bin, 0o755))

	const size = 4<<20 + 99
	want := make([]byte, size)
	f, err := os.Create(filepath.Join(src, "rootfs", "data", "sparse"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	for off, s := range map[int64]string{10: "first", 3<<20 + 1: "second"} {
		_, err := f.WriteAt([]byte(s), off)
		require.NoError(t, err)
		copy(want[off:], s)
	}
	require.NoError(t, f.Close())

	cmd := exec.Command(tarBin, "-C", src, "--sparse", "--format=gnu", "-cf", "-", "config.json", "rootfs")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ar, err := cmd.Output()
	require.NoError(t, err, "%v: %s", cmd.Args, stderr.String())
	require.Equal(t, "S", string(rune(typeOf(t, ar, "rootfs/data/sparse"))), "tar wrote the file in the old GNU sparse format")

	require.NoError(t, d.client.Create(testCtx(t), "sparse", bytes.NewReader(ar)))
	p := d.inspect(t, "sparse")
	got, err := os.ReadFile(filepath.Join(d.storeDir(p.ID), "rootfs", "data", "sparse"))
	require.NoError(t, err, "the sparse file is missing from the plugin's rootfs")
	assert.Equal(t, size, len(got))
	assert.True(t, bytes.Equal(want, got), "contents differ")
}

// typeOf is the type of ar's entry name (a leading "./" aside).
func typeOf(t *testing.T, ar []byte, name string) byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(ar))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			require.FailNow(t, "no entry "+name)
		}
		require.NoError(t, err)
		if filepath.Clean(hdr.Name) == name {
			return hdr.Typeflag
		}
	}
}
