package store_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/store"
)

func id(c byte) string { return strings.Repeat(string(c), 64) }

func testPlugin(pid, name string) plugin.Plugin {
	return plugin.Plugin{
		ID: pid, Name: name, PluginReference: name,
		Config:   plugin.Config{Entrypoint: []string{"/bin/p"}, Description: "test " + name},
		Settings: plugin.Settings{Args: []string{}, Env: []string{"A=1"}, Mounts: []plugin.Mount{}, Devices: []plugin.Device{}},
	}
}

func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	s, err := store.Open(dir)
	require.NoError(t, err)
	return s, dir
}

// create puts p into s through a staging directory, with a file in rootfs.
func create(t *testing.T, s *store.Store, p plugin.Plugin) {
	t.Helper()
	staging, err := s.NewStaging()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(staging, "rootfs", "file"), []byte(p.Name), 0o644))
	require.NoError(t, s.Commit(staging, p))
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "plugins")
	_, err := store.Open(dir)
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	assert.DirExists(t, filepath.Join(dir, "tmp"))
}

func TestOpenTightensExistingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	require.NoError(t, os.Mkdir(dir, 0o755))
	_, err := store.Open(dir)
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

func TestOpenRemovesLeftovers(t *testing.T) {
	s, dir := openStore(t)
	keep := id('a')
	create(t, s, testPlugin(keep, "keep:latest"))

	// A create and a remove that a crash interrupted.
	staging, err := s.NewStaging()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(staging, "rootfs", "half"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tmp", "stray-file"), []byte("x"), 0o644))
	removing := filepath.Join(dir, id('b')+"-removing")
	require.NoError(t, os.MkdirAll(filepath.Join(removing, "rootfs", "deep"), 0o755))
	// Not ours to touch: neither a plugin nor a leftover.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "storage"), 0o700))

	_, err = store.Open(dir)
	require.NoError(t, err)
	assert.Empty(t, names(t, filepath.Join(dir, "tmp")), "tmp/ is emptied")
	assert.NoDirExists(t, removing)
	assert.Equal(t, []string{keep, "storage", "tmp"}, names(t, dir))
}

func TestCommit(t *testing.T) {
	s, dir := openStore(t)
	p := testPlugin(id('c'), "foo:latest")

	staging, err := s.NewStaging()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "tmp"), filepath.Dir(staging), "staging lives in tmp/")
	assert.DirExists(t, filepath.Join(staging, "rootfs"))
	require.NoError(t, os.WriteFile(filepath.Join(staging, "rootfs", "bin"), []byte("bin"), 0o755))

	require.NoError(t, s.Commit(staging, p))
	assert.NoDirExists(t, staging)
	assert.Empty(t, names(t, filepath.Join(dir, "tmp")))
	assert.Equal(t, filepath.Join(dir, p.ID), s.Dir(p.ID))
	assert.Equal(t, filepath.Join(dir, p.ID, "rootfs"), s.Rootfs(p.ID))
	data, err := os.ReadFile(filepath.Join(s.Rootfs(p.ID), "bin"))
	require.NoError(t, err)
	assert.Equal(t, "bin", string(data))

	fi, err := os.Stat(filepath.Join(dir, p.ID, "config.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	raw, err := os.ReadFile(filepath.Join(dir, p.ID, "config.json"))
	require.NoError(t, err)
	var onDisk struct {
		Plugin plugin.Plugin `json:"plugin"`
	}
	require.NoError(t, json.Unmarshal(raw, &onDisk), "config.json holds {\"plugin\": …} as in Docker")
	assert.Equal(t, p, onDisk.Plugin)
}

func TestCommitOverExistingPluginFails(t *testing.T) {
	s, _ := openStore(t)
	p := testPlugin(id('c'), "foo:latest")
	create(t, s, p)
	staging, err := s.NewStaging()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(staging, "rootfs", "other"), nil, 0o644))
	assert.Error(t, s.Commit(staging, testPlugin(p.ID, "bar:latest")))
	recs, err := s.Load()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "foo:latest", recs[0].Plugin.Name)
	s.Discard(staging)
	assert.NoDirExists(t, staging)
}

func TestLoad(t *testing.T) {
	s, dir := openStore(t)
	a, b := testPlugin(id('a'), "a:latest"), testPlugin(id('b'), "b:latest")
	create(t, s, a)
	create(t, s, b)

	// Ignored: names that are not 64 lower-case hex, and plain files.
	for _, n := range []string{"tmp", "storage", strings.Repeat("A", 64), id('a')[:63], id('a') + "0", id('g')} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, n), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, n, "config.json"), []byte("garbage"), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, id('e')), []byte("a file"), 0o600))

	recs, err := s.Load()
	require.NoError(t, err)
	var got []plugin.Plugin
	for _, r := range recs {
		got = append(got, r.Plugin)
	}
	assert.ElementsMatch(t, []plugin.Plugin{a, b}, got)
}

func TestLoadReportsBrokenPlugins(t *testing.T) {
	tests := []struct {
		name    string
		dirID   string
		content *string // nil: no config.json
		wantMsg []string
	}{
		{name: "corrupt config.json", dirID: id('c'), content: ptr("{not json"), wantMsg: []string{id('c'), "config.json"}},
		{name: "missing config.json", dirID: id('d'), content: nil, wantMsg: []string{id('d')}},
		{
			name: "ID mismatch", dirID: id('e'),
			content: ptr(`{"plugin":{"Id":"` + id('f') + `","Name":"x:latest"}}`),
			wantMsg: []string{id('e'), "does not match its directory", id('f')},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openStore(t)
			good := testPlugin(id('a'), "good:latest")
			create(t, s, good)
			require.NoError(t, os.Mkdir(filepath.Join(dir, tt.dirID), 0o700))
			if tt.content != nil {
				require.NoError(t, os.WriteFile(filepath.Join(dir, tt.dirID, "config.json"), []byte(*tt.content), 0o600))
			}

			recs, err := s.Load()
			require.Error(t, err)
			for _, m := range tt.wantMsg {
				assert.Contains(t, err.Error(), m)
			}
			require.Len(t, recs, 1, "the good plugin still loads")
			assert.Equal(t, good, recs[0].Plugin)
		})
	}
}

func TestLoadJoinsErrors(t *testing.T) {
	s, dir := openStore(t)
	for _, c := range []byte{'1', '2'} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, id(c)), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, id(c), "config.json"), []byte("["), 0o600))
	}
	recs, err := s.Load()
	require.Error(t, err)
	assert.Empty(t, recs)
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Load's error is an errors.Join")
	assert.Len(t, joined.Unwrap(), 2)
}

func TestSave(t *testing.T) {
	s, dir := openStore(t)
	p := testPlugin(id('a'), "a:latest")
	create(t, s, p)

	p.Enabled = true
	p.Settings.Env = []string{"A=2"}
	require.NoError(t, s.Save(p))

	recs, err := s.Load()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, p, recs[0].Plugin)

	assert.Equal(t, []string{"config.json", "rootfs"}, names(t, s.Dir(p.ID)), "no temporary file left behind")
	fi, err := os.Stat(filepath.Join(dir, p.ID, "config.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestSaveUnknownPlugin(t *testing.T) {
	s, dir := openStore(t)
	err := s.Save(testPlugin(id('a'), "a:latest"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), id('a'))
	assert.Equal(t, []string{"tmp"}, names(t, dir), "Save creates no plugin directory")
}

func TestRemove(t *testing.T) {
	s, dir := openStore(t)
	a, b := testPlugin(id('a'), "a:latest"), testPlugin(id('b'), "b:latest")
	create(t, s, a)
	create(t, s, b)
	require.NoError(t, os.MkdirAll(filepath.Join(s.LogDir(a.ID)), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(s.LogDir(a.ID), "plugin.log"), []byte("x\n"), 0o600))

	require.NoError(t, s.Remove(a.ID))
	assert.NotContains(t, names(t, dir), a.ID, "removed at once")
	s.Wait()
	assert.Equal(t, []string{b.ID, "tmp"}, names(t, dir), "nothing of a is left")
	recs, err := s.Load()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, b, recs[0].Plugin)

	err = s.Remove(a.ID)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestPaths(t *testing.T) {
	s, dir := openStore(t)
	pid := id('a')
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "Dir", got: s.Dir(pid), want: filepath.Join(dir, pid)},
		{name: "Rootfs", got: s.Rootfs(pid), want: filepath.Join(dir, pid, "rootfs")},
		{name: "PropagatedMount", got: s.PropagatedMount(pid), want: filepath.Join(dir, pid, "propagated-mount")},
		{name: "LogDir", got: s.LogDir(pid), want: filepath.Join(dir, pid, "logs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func ptr[T any](v T) *T { return &v }
