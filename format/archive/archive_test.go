package archive_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/format/archive"
)

// entry is one tar entry; Body is the content of a regular file.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	Linkname string
	Body     string
}

var modTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

const configJSON = `{"Entrypoint":["/bin/plugin"]}`

func file(name, body string, mode int64) entry {
	return entry{Name: name, Type: tar.TypeReg, Mode: mode, Body: body}
}
func dir(name string) entry { return entry{Name: name, Type: tar.TypeDir, Mode: 0o755} }
func symlink(name, target string) entry {
	return entry{Name: name, Type: tar.TypeSymlink, Linkname: target}
}
func hardlink(name, target string) entry {
	return entry{Name: name, Type: tar.TypeLink, Linkname: target}
}
func config() entry { return file("config.json", configJSON, 0o644) }

func makeTar(t *testing.T, entries ...entry) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname,
			Size: int64(len(e.Body)), ModTime: modTime, Format: tar.FormatPAX,
		}
		if e.Type == tar.TypeChar || e.Type == tar.TypeBlock {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if e.Body != "" {
			_, err := tw.Write([]byte(e.Body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return bytes.NewReader(buf.Bytes())
}

// unpack unpacks entries into a fresh <tmp>/rootfs and returns it.
func unpack(t *testing.T, entries ...entry) (archive.Context, string, error) {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.Mkdir(rootfs, 0o755))
	ctx, err := archive.UnpackContext(makeTar(t, entries...), rootfs)
	return ctx, rootfs, err
}

func happyEntries(pluginBody string) []entry {
	return []entry{
		config(),
		dir("rootfs/"),
		dir("rootfs/bin/"),
		file("rootfs/bin/plugin", pluginBody, 0o755),
		symlink("rootfs/bin/rel", "plugin"),
		dir("rootfs/etc/"),
		symlink("rootfs/etc/abs", "/etc/passwd"),
		hardlink("rootfs/bin/hard", "rootfs/bin/plugin"),
		file("README.md", "ignored", 0o644),
		dir("other/"),
		file("other/ignored.txt", "ignored", 0o644),
		file("rootfsX/ignored.txt", "ignored", 0o644),
	}
}

func TestUnpackContext(t *testing.T) {
	ctx, rootfs, err := unpack(t, happyEntries("#!/bin/sh\necho hi\n")...)
	require.NoError(t, err)

	assert.Equal(t, configJSON, string(ctx.Config))
	assert.Equal(t, 7, ctx.Entries, "rootfs, bin, plugin, rel, etc, abs, hard")
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, ctx.RootfsDigest)

	fi, err := os.Lstat(filepath.Join(rootfs, "bin", "plugin"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	data, err := os.ReadFile(filepath.Join(rootfs, "bin", "plugin"))
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\necho hi\n", string(data))
	assert.Equal(t, modTime, fi.ModTime().UTC())

	fi, err = os.Lstat(filepath.Join(rootfs, "bin"))
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, modTime, fi.ModTime().UTC(), "directory times are set after their content")

	links := []struct {
		name   string
		path   string
		target string
	}{
		{name: "relative symlink", path: "bin/rel", target: "plugin"},
		{name: "absolute symlink kept as-is", path: "etc/abs", target: "/etc/passwd"},
	}
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) {
			fi, err := os.Lstat(filepath.Join(rootfs, l.path))
			require.NoError(t, err)
			assert.Equal(t, os.ModeSymlink, fi.Mode().Type())
			target, err := os.Readlink(filepath.Join(rootfs, l.path))
			require.NoError(t, err)
			assert.Equal(t, l.target, target)
		})
	}

	orig, err := os.Stat(filepath.Join(rootfs, "bin", "plugin"))
	require.NoError(t, err)
	hard, err := os.Lstat(filepath.Join(rootfs, "bin", "hard"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(orig, hard), "bin/hard is a hard link to bin/plugin")

	// Nothing but rootfs/ content is written, and only inside rootfs.
	top, err := os.ReadDir(filepath.Dir(rootfs))
	require.NoError(t, err)
	require.Len(t, top, 1)
	assert.Equal(t, "rootfs", top[0].Name())
	inRootfs, err := os.ReadDir(rootfs)
	require.NoError(t, err)
	var names []string
	for _, e := range inRootfs {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"bin", "etc"}, names)
}

func TestUnpackContextDotSlashNames(t *testing.T) {
	ctx, rootfs, err := unpack(t, file("./config.json", configJSON, 0o644), dir("./rootfs/"), file("./rootfs/a", "A", 0o600))
	require.NoError(t, err)
	assert.Equal(t, configJSON, string(ctx.Config))
	assert.Equal(t, 2, ctx.Entries)
	data, err := os.ReadFile(filepath.Join(rootfs, "a"))
	require.NoError(t, err)
	assert.Equal(t, "A", string(data))
}

func TestUnpackContextDigest(t *testing.T) {
	first, _, err := unpack(t, happyEntries("one")...)
	require.NoError(t, err)
	tests := []struct {
		name    string
		entries []entry
		same    bool
	}{
		{name: "same input", entries: happyEntries("one"), same: true},
		{name: "different file content", entries: happyEntries("two"), same: false},
		{name: "config.json does not count", entries: append([]entry{file("config.json", `{"Description":"x"}`, 0o644)}, happyEntries("one")[1:]...), same: true},
		{name: "ignored entries do not count", entries: append(happyEntries("one"), file("other/more", "x", 0o644)), same: true},
		{name: "different mode", entries: append(happyEntries("one")[:3], append([]entry{file("rootfs/bin/plugin", "one", 0o700)}, happyEntries("one")[4:]...)...), same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _, err := unpack(t, tt.entries...)
			require.NoError(t, err)
			if tt.same {
				assert.Equal(t, first.RootfsDigest, ctx.RootfsDigest)
			} else {
				assert.NotEqual(t, first.RootfsDigest, ctx.RootfsDigest)
			}
		})
	}
}

func TestUnpackContextIncomplete(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    error
	}{
		{name: "empty tar", want: archive.ErrNoConfig},
		{name: "no config.json", entries: []entry{dir("rootfs/"), file("rootfs/a", "a", 0o644)}, want: archive.ErrNoConfig},
		{name: "config.json only", entries: []entry{config()}, want: archive.ErrNoRootfs},
		{name: "only ignored entries", entries: []entry{config(), file("rootfsX/a", "a", 0o644), dir("other/")}, want: archive.ErrNoRootfs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := unpack(t, tt.entries...)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	assert.EqualError(t, archive.ErrNoConfig, "config not found")
	assert.EqualError(t, archive.ErrNoRootfs, "no rootfs found")
}

// uniqueName returns a file name no other test run uses.
func uniqueName(t *testing.T) string {
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "plugdbg-archive-test-" + hex.EncodeToString(b)
}

func TestUnpackContextRefusesEscapes(t *testing.T) {
	// outside is a directory beside the destination that entries must not reach.
	evil := uniqueName(t)
	etcEvil := filepath.Join("/etc", evil)
	t.Cleanup(func() { os.Remove(etcEvil) })

	tests := []struct {
		name    string
		entries func(outside string) []entry
		wantMsg []string
	}{
		{
			name:    "parent path",
			entries: func(string) []entry { return []entry{config(), dir("rootfs/"), file("../x", "x", 0o644)} },
			wantMsg: []string{`"../x"`},
		},
		{
			name:    "absolute path",
			entries: func(string) []entry { return []entry{config(), dir("rootfs/"), file("/etc/"+evil, "x", 0o644)} },
			wantMsg: []string{`"/etc/` + evil + `"`, "absolute"},
		},
		{
			name:    "rootfs/../../x",
			entries: func(string) []entry { return []entry{config(), dir("rootfs/"), file("rootfs/../../"+evil, "x", 0o644)} },
			wantMsg: []string{`"rootfs/../../` + evil + `"`},
		},
		{
			name: "write through an absolute symlink to /etc",
			entries: func(string) []entry {
				return []entry{config(), dir("rootfs/"), symlink("rootfs/link", "/etc"), file("rootfs/link/"+evil, "x", 0o644)}
			},
			wantMsg: []string{`"rootfs/link/` + evil + `"`},
		},
		{
			name: "write through a relative symlink that climbs out",
			entries: func(string) []entry {
				return []entry{config(), dir("rootfs/"), symlink("rootfs/l2", "../../.."), file("rootfs/l2/"+evil, "x", 0o644)}
			},
			wantMsg: []string{`"rootfs/l2/` + evil + `"`},
		},
		{
			name: "directory through a symlink to an outside directory",
			entries: func(outside string) []entry {
				return []entry{config(), dir("rootfs/"), symlink("rootfs/out", outside), dir("rootfs/out/sub/")}
			},
			wantMsg: []string{`"rootfs/out/sub/"`},
		},
		{
			name: "hard link to ../outside",
			entries: func(string) []entry {
				return []entry{config(), dir("rootfs/"), hardlink("rootfs/h", "../outside")}
			},
			wantMsg: []string{`"rootfs/h"`},
		},
		{
			name: "hard link to a path outside rootfs/",
			entries: func(string) []entry {
				return []entry{config(), dir("rootfs/"), hardlink("rootfs/h", "config.json")}
			},
			wantMsg: []string{`"rootfs/h"`, "outside rootfs"},
		},
		{
			name: "hard link through a symlink to an outside file",
			entries: func(outside string) []entry {
				return []entry{config(), dir("rootfs/"), symlink("rootfs/out", outside), hardlink("rootfs/h", "rootfs/out/secret")}
			},
			wantMsg: []string{`"rootfs/h"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			require.NoError(t, os.Mkdir(outside, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600))
			rootfs := filepath.Join(base, "a", "b", "rootfs") // ../../.. from rootfs/l2 is base
			require.NoError(t, os.MkdirAll(rootfs, 0o755))

			_, err := archive.UnpackContext(makeTar(t, tt.entries(outside)...), rootfs)
			require.Error(t, err)
			t.Log(err)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}

			assert.NoFileExists(t, etcEvil)
			assert.NoFileExists(t, filepath.Join(base, evil))
			assert.NoDirExists(t, filepath.Join(outside, "sub"))
			assert.NoFileExists(t, filepath.Join(rootfs, "h"))
			fi, err := os.Stat(filepath.Join(outside, "secret"))
			require.NoError(t, err)
			assert.Equal(t, uint64(1), nlink(t, fi), "the outside file gained a hard link")
			fi, err = os.Stat(outside)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the outside directory's mode changed")
		})
	}
}

// TestUnpackContextDirEntryOnOutsideSymlink checks that a directory entry
// whose path is a symlink leading outside neither changes the mode nor the
// times of the directory the symlink points to.
func TestUnpackContextDirEntryOnOutsideSymlink(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	require.NoError(t, os.Mkdir(outside, 0o700))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(outside, old, old))
	rootfs := filepath.Join(base, "rootfs")
	require.NoError(t, os.Mkdir(rootfs, 0o755))

	r := makeTar(t, config(), dir("rootfs/"), symlink("rootfs/out", outside), entry{Name: "rootfs/out/", Type: tar.TypeDir, Mode: 0o777})
	_, err := archive.UnpackContext(r, rootfs) // an error is fine; a change outside is not
	t.Log(err)

	fi, err := os.Stat(outside)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "mode of the symlink's target changed")
	assert.Equal(t, old, fi.ModTime().UTC(), "times of the symlink's target changed")
}

func TestUnpackContextRefusedEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		wantMsg []string
	}{
		{
			name:    "char device",
			entries: []entry{config(), dir("rootfs/"), dir("rootfs/dev/"), {Name: "rootfs/dev/null", Type: tar.TypeChar, Mode: 0o666}},
			wantMsg: []string{`"rootfs/dev/null"`, "Linux.Devices"},
		},
		{
			name:    "block device",
			entries: []entry{config(), dir("rootfs/"), {Name: "rootfs/sda", Type: tar.TypeBlock, Mode: 0o660}},
			wantMsg: []string{`"rootfs/sda"`, "Linux.Devices"},
		},
		{
			name:    "config.json as a symlink",
			entries: []entry{symlink("config.json", "/etc/passwd"), dir("rootfs/"), file("rootfs/a", "a", 0o644)},
			wantMsg: []string{`"config.json"`},
		},
		{
			name:    "rootfs as a symlink",
			entries: []entry{config(), symlink("rootfs", "/")},
			wantMsg: []string{`"rootfs"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rootfs, err := unpack(t, tt.entries...)
			require.Error(t, err)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
			assert.NoFileExists(t, filepath.Join(rootfs, "dev", "null"))
			assert.NoFileExists(t, filepath.Join(rootfs, "sda"))
		})
	}
}

func TestUnpackContextMissingDestination(t *testing.T) {
	_, err := archive.UnpackContext(makeTar(t, config(), dir("rootfs/")), filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing")
}

func nlink(t *testing.T, fi os.FileInfo) uint64 {
	t.Helper()
	st, ok := fi.Sys().(*syscall.Stat_t)
	require.True(t, ok)
	return uint64(st.Nlink)
}
