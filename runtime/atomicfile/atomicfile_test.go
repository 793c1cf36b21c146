package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/atomicfile"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name     string
		existing *string // content before Write; nil: no file
		data     string
		perm     os.FileMode
	}{
		{name: "new file", data: "hello\n", perm: 0o600},
		{name: "replace content", existing: ptr("a much longer old content\n"), data: "new\n", perm: 0o644},
		{name: "replace and change perm", existing: ptr("old"), data: "new", perm: 0o640},
		{name: "empty content", existing: ptr("old"), data: "", perm: 0o600},
		{name: "perm not reduced by umask", data: "x", perm: 0o666},
	}
	writers := map[string]func(string, []byte, os.FileMode) error{
		"Write": atomicfile.Write, "WriteRunState": atomicfile.WriteRunState,
	}
	for wname, write := range writers {
		for _, tt := range tests {
			t.Run(wname+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "state.json")
				if tt.existing != nil {
					require.NoError(t, os.WriteFile(path, []byte(*tt.existing), 0o600))
				}
				require.NoError(t, write(path, []byte(tt.data), tt.perm))

				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, tt.data, string(got))
				fi, err := os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, tt.perm, fi.Mode().Perm())
				assert.Equal(t, []string{"state.json"}, dirNames(t, dir), "no temporary file left behind")
			})
		}
	}
}

func TestWriteRunStateJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "monitor.pid")
	require.NoError(t, atomicfile.WriteRunStateJSON(path, map[string]int{"pid": 7}, 0o600))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\"pid\":7}\n", string(got))
	require.Error(t, atomicfile.WriteRunStateJSON(path, func() {}, 0o600))
	assert.Equal(t, []string{"monitor.pid"}, dirNames(t, dir))
}

func TestWriteJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.json")
	require.NoError(t, atomicfile.WriteJSON(path, map[string]int{"a": 1}, 0o600))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"a\": 1\n}\n", string(got))

	err = atomicfile.WriteJSON(path, func() {}, 0o600)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"a\": 1\n}\n", string(got), "a failed write leaves the old content")
	assert.Equal(t, []string{"v.json"}, dirNames(t, dir))
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to write
	}{
		{
			name:  "missing directory",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "f") },
		},
		{
			name: "path is a directory",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "d")
				require.NoError(t, os.Mkdir(p, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(p, "keep"), nil, 0o600))
				return p
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before := dirNames(t, dir)
			err := atomicfile.Write(path, []byte("x"), 0o600)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
			assert.Equal(t, before, dirNames(t, dir), "no temporary file left behind")
		})
	}
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, atomicfile.SyncDir(t.TempDir()))
	missing := filepath.Join(t.TempDir(), "missing")
	err := atomicfile.SyncDir(missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
}

func ptr[T any](v T) *T { return &v }
