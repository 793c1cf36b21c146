package archive_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/format/archive"
)

// sparseFormats are the ways GNU tar writes a sparse file: the old GNU
// format gives it its own entry type ('S'); the PAX ones keep type '0' and
// put the map in GNU.sparse.* records.
var sparseFormats = []struct {
	name string
	args []string
	// wantType is the type Go's reader reports for the sparse entry, and
	// pax whether the archive holds GNU.sparse records: together they show
	// that tar did write the file sparse.
	wantType byte
	pax      bool
}{
	{name: "gnu", args: []string{"--sparse", "--format=gnu"}, wantType: tar.TypeGNUSparse},
	{name: "pax 0.0", args: []string{"--sparse", "--format=pax", "--sparse-version=0.0"}, wantType: tar.TypeReg, pax: true},
	{name: "pax 0.1", args: []string{"--sparse", "--format=pax", "--sparse-version=0.1"}, wantType: tar.TypeReg, pax: true},
	{name: "pax 1.0", args: []string{"--sparse", "--format=pax", "--sparse-version=1.0"}, wantType: tar.TypeReg, pax: true},
	{name: "not sparse", args: []string{"--format=gnu"}, wantType: tar.TypeReg},
}

// checkSparse requires that tar wrote ar's "sparse" entry as f says.
func checkSparse(t *testing.T, ar []byte, wantType byte, pax bool) {
	t.Helper()
	require.Equal(t, string(rune(wantType)), string(rune(entryType(t, ar, "sparse"))), "entry type tar wrote")
	require.Equal(t, pax, bytes.Contains(ar, []byte("GNU.sparse.")), "GNU.sparse records in the archive")
}

// sparseMTime is whole seconds: the old GNU format keeps no fraction, and
// the digest compared across formats includes the time.
var sparseMTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// writeSparseFiles makes, in dir, "sparse" (data at the start and in the
// middle, a hole at the end) and "sparse-end" (a hole first, data at the
// end), and returns their contents.
func writeSparseFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	layouts := map[string]struct {
		size   int64
		pieces map[int64]string
	}{
		"sparse":     {size: 3<<20 + 123, pieces: map[int64]string{0: "head", 1<<20 + 5: "middle"}},
		"sparse-end": {size: 2<<20 + 7, pieces: map[int64]string{2<<20 + 1: "tail!!"}},
	}
	want := map[string][]byte{}
	for name, l := range layouts {
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o750)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(l.size))
		content := make([]byte, l.size)
		for off, s := range l.pieces {
			_, err := f.WriteAt([]byte(s), off)
			require.NoError(t, err)
			copy(content[off:], s)
		}
		require.NoError(t, f.Close())
		require.NoError(t, os.Chtimes(p, sparseMTime, sparseMTime))
		want[name] = content
	}
	return want
}

// gnuTar runs GNU tar in dir on members with args and returns the archive,
// skipping the test where there is no tar.
func gnuTar(t *testing.T, dir string, args []string, members ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("tar")
	if err != nil {
		t.Skipf("no tar to build the archives with (%v)", err)
	}
	cmd := exec.Command(bin, append(append(append([]string{"-C", dir}, args...), "--numeric-owner", "-cf", "-"), members...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%v: %s", cmd.Args, stderr.String())
	return out
}

// entryType is the type Go's reader reports for the entry whose name ends
// in suffix.
func entryType(t *testing.T, archive []byte, suffix string) byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			require.FailNow(t, "no entry ending in "+suffix)
		}
		require.NoError(t, err)
		if filepath.Base(hdr.Name) == suffix {
			return hdr.Typeflag
		}
	}
}

// assertFiles checks that dir holds the files of want, with the same
// contents, mode and time.
func assertFiles(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	for name, content := range want {
		p := filepath.Join(dir, name)
		got, err := os.ReadFile(p)
		if !assert.NoError(t, err, "%s is missing", name) {
			continue
		}
		assert.Equal(t, len(content), len(got), "%s: size", name)
		assert.True(t, bytes.Equal(content, got), "%s: contents differ", name)
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm(), "%s: mode", name)
		assert.Equal(t, sparseMTime, fi.ModTime().UTC(), "%s: time", name)
	}
}

// TestUnpackContextSparse unpacks build contexts whose rootfs holds sparse
// files, as GNU tar writes them in each format: the files must come out
// whole, and the rootfs digest must not depend on how tar stored them.
func TestUnpackContextSparse(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "config.json"), []byte(configJSON), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(src, "rootfs"), 0o755))
	want := writeSparseFiles(t, filepath.Join(src, "rootfs"))
	require.NoError(t, os.Chtimes(filepath.Join(src, "rootfs"), sparseMTime, sparseMTime))

	digests := map[string]string{}
	for _, f := range sparseFormats {
		t.Run(f.name, func(t *testing.T) {
			ar := gnuTar(t, src, f.args, "config.json", "rootfs")
			checkSparse(t, ar, f.wantType, f.pax)

			rootfs := filepath.Join(t.TempDir(), "rootfs")
			require.NoError(t, os.Mkdir(rootfs, 0o755))
			ctx, err := archive.UnpackContext(bytes.NewReader(ar), rootfs)
			require.NoError(t, err)
			assert.Equal(t, 3, ctx.Entries, "rootfs, sparse, sparse-end")
			assertFiles(t, rootfs, want)
			digests[f.name] = ctx.RootfsDigest
		})
	}
	for name, d := range digests {
		assert.Equal(t, digests["not sparse"], d, "rootfs digest of %s", name)
	}
}

// TestApplyLayerSparse applies layers holding sparse files, as GNU tar
// writes them in each format, on top of a rootfs that already has one.
func TestApplyLayerSparse(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(src, "opt"), 0o755))
	want := writeSparseFiles(t, filepath.Join(src, "opt"))
	for _, f := range sparseFormats {
		t.Run(f.name, func(t *testing.T) {
			ar := gnuTar(t, src, f.args, ".")
			checkSparse(t, ar, f.wantType, f.pax)

			rootfs := t.TempDir()
			require.NoError(t, os.Mkdir(filepath.Join(rootfs, "opt"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(rootfs, "opt", "sparse"), []byte("lower layer"), 0o644))
			res, err := archive.ApplyLayer(bytes.NewReader(ar), rootfs)
			require.NoError(t, err)
			assert.Empty(t, res.Skipped)
			assertFiles(t, filepath.Join(rootfs, "opt"), want)
		})
	}
}

// TestUnpackUnsupportedType checks that an entry of a type neither unpacker
// writes fails the unpacking with its name and type instead of vanishing,
// and that a PAX global header, which names no file, is passed over.
func TestUnpackUnsupportedType(t *testing.T) {
	odd := func(name string) entry { return entry{Name: name, Type: 'D', Mode: 0o755} }
	t.Run("context", func(t *testing.T) {
		_, rootfs, err := unpack(t, config(), dir("rootfs/"), file("rootfs/a", "a", 0o644), odd("rootfs/odd"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `tar entry "rootfs/odd": entry type 'D' is not supported`)
		assert.NoFileExists(t, filepath.Join(rootfs, "odd"))
		assert.NoDirExists(t, filepath.Join(rootfs, "odd"))
	})
	t.Run("context, outside rootfs", func(t *testing.T) {
		// Like every entry outside rootfs/, Docker's rule: ignored.
		_, _, err := unpack(t, config(), odd("other"), dir("rootfs/"), file("rootfs/a", "a", 0o644))
		require.NoError(t, err)
	})
	t.Run("layer", func(t *testing.T) {
		rootfs := t.TempDir()
		_, err := archive.ApplyLayer(makeTar(t, dir("etc/"), odd("etc/odd")), rootfs)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `layer entry "etc/odd": entry type 'D' is not supported`)
		assert.NoFileExists(t, filepath.Join(rootfs, "etc", "odd"))
		assert.NoDirExists(t, filepath.Join(rootfs, "etc", "odd"))
	})

	global := func(t *testing.T, entries ...entry) *bytes.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		require.NoError(t, tw.WriteHeader(&tar.Header{
			Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader,
			PAXRecords: map[string]string{"comment": "0123456789abcdef"}, Format: tar.FormatPAX,
		}))
		require.NoError(t, tw.Flush()) // pads the header's records; no Close, whose end marker would end the archive
		_, err := io.Copy(&buf, makeTar(t, entries...))
		require.NoError(t, err)
		return bytes.NewReader(buf.Bytes())
	}
	t.Run("global header, context", func(t *testing.T) {
		rootfs := filepath.Join(t.TempDir(), "rootfs")
		require.NoError(t, os.Mkdir(rootfs, 0o755))
		ctx, err := archive.UnpackContext(global(t, config(), dir("rootfs/"), file("rootfs/a", "A", 0o644)), rootfs)
		require.NoError(t, err)
		assert.Equal(t, 2, ctx.Entries)
		assert.FileExists(t, filepath.Join(rootfs, "a"))
	})
	t.Run("global header, layer", func(t *testing.T) {
		rootfs := t.TempDir()
		_, err := archive.ApplyLayer(global(t, dir("etc/"), file("etc/a", "A", 0o644)), rootfs)
		require.NoError(t, err)
		assert.FileExists(t, filepath.Join(rootfs, "etc", "a"))
	})
}
