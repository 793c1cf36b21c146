package archive_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/format/archive"
)

func TestUnpackContextWithinLimits(t *testing.T) {
	entries := happyEntries("0123456789")
	size := int64(len(configJSON) + 10 + 3*len("ignored")) // 61: every regular file
	require.Len(t, entries, 12)
	tests := []struct {
		name    string
		lim     archive.ContextLimits
		wantErr string // "" for none
	}{
		{name: "at both limits", lim: archive.ContextLimits{Bytes: size, Entries: len(entries)}},
		{name: "zero means the defaults", lim: archive.ContextLimits{}},
		{name: "one entry too many", lim: archive.ContextLimits{Bytes: size, Entries: len(entries) - 1},
			wantErr: `build context over the limit of 11 entries (at tar entry "rootfsX/ignored.txt")`},
		{name: "one byte too many", lim: archive.ContextLimits{Bytes: size - 1, Entries: len(entries)},
			wantErr: `build context over the 60B limit of unpacked size (at tar entry "rootfsX/ignored.txt")`},
		{name: "a file over the size", lim: archive.ContextLimits{Bytes: 35},
			wantErr: `build context over the 35B limit of unpacked size (at tar entry "rootfs/bin/plugin")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := filepath.Join(t.TempDir(), "rootfs")
			require.NoError(t, os.Mkdir(rootfs, 0o755))
			_, err := archive.UnpackContextWithin(makeTar(t, entries...), rootfs, tt.lim)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
			var le *archive.LimitError
			assert.True(t, errors.As(err, &le), "want *archive.LimitError, got %T", err)
		})
	}
}

// TestUnpackContextRefusesFromTheHeader: an entry whose header claims more
// than the limit is refused before anything of it is read or written, so a
// client cannot make the daemon write up to the limit and then some.
func TestUnpackContextRefusesFromTheHeader(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "rootfs/huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: archive.DefaultContextLimits.Bytes + 1}))
	// No Flush: the stream ends after the header, so reading the body
	// would fail with an unexpected EOF rather than the bound.
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.Mkdir(rootfs, 0o755))
	_, err := archive.UnpackContext(&buf, rootfs)
	assert.EqualError(t, err, `build context over the 4GiB limit of unpacked size (at tar entry "rootfs/huge")`)
	assert.NoFileExists(t, filepath.Join(rootfs, "huge"))
}
