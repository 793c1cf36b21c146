package logs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

// rec returns the record of entry seq, newline included. For seq in
// 100…999 every record has the same length, recLen.
func rec(seq uint64) []byte {
	e := logs.Entry{Seq: seq, Time: int64(seq) * 1000, Stream: logs.Stdout, Line: fmt.Sprintf("line %d", seq)}
	return append(e.AppendJSON(nil), '\n')
}

var recLen = int64(len(rec(100)))

// recs returns the records of entries from … to, inclusive.
func recs(from, to uint64) []byte {
	var b []byte
	for s := from; s <= to; s++ {
		b = append(b, rec(s)...)
	}
	return b
}

// openRotating opens path as logs.OpenRotating does, and closes it when the
// test ends.
func openRotating(t *testing.T, path string, maxSize int64, maxFiles int) *logs.RotatingFile {
	t.Helper()
	r, err := logs.OpenRotating(path, maxSize, maxFiles)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// write appends b to r, which must succeed.
func write(t *testing.T, r *logs.RotatingFile, b []byte) {
	t.Helper()
	_, err := r.Write(b)
	require.NoError(t, err)
}

// seqsIn returns the Seq of each record of the named file, failing on any
// record that does not decode.
func seqsIn(t *testing.T, name string) []uint64 {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	var seqs []uint64
	require.NoError(t, logs.Scan(f, func(e logs.Entry) error {
		seqs = append(seqs, e.Seq)
		return nil
	}))
	return seqs
}

// logContents returns, for each file of dir, the Seqs of its records.
func logContents(t *testing.T, dir string) map[string][]uint64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	got := map[string][]uint64{}
	for _, de := range des {
		got[de.Name()] = seqsIn(t, filepath.Join(dir, de.Name()))
	}
	return got
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestRotatingFileRotates(t *testing.T) {
	tests := []struct {
		name     string
		maxSize  int64
		maxFiles int
		batches  []int // records per Write
		want     map[string][]uint64
	}{
		{name: "no rotation up to the maximum", maxSize: 3 * recLen, maxFiles: 3, batches: []int{1, 1, 1},
			want: map[string][]uint64{"plugin.log": {100, 101, 102}}},
		{name: "rotates before the write that would pass the maximum", maxSize: 3 * recLen, maxFiles: 3, batches: []int{1, 1, 1, 1},
			want: map[string][]uint64{"plugin.log.1": {100, 101, 102}, "plugin.log": {103}}},
		{name: "a batch is never split", maxSize: 3 * recLen, maxFiles: 3, batches: []int{2, 2},
			want: map[string][]uint64{"plugin.log.1": {100, 101}, "plugin.log": {102, 103}}},
		{name: "a batch larger than the maximum goes whole into a fresh file", maxSize: 2 * recLen, maxFiles: 3, batches: []int{1, 3, 1},
			want: map[string][]uint64{"plugin.log.2": {100}, "plugin.log.1": {101, 102, 103}, "plugin.log": {104}}},
		{name: "a first batch larger than the maximum stays in the empty file", maxSize: recLen, maxFiles: 3, batches: []int{3},
			want: map[string][]uint64{"plugin.log": {100, 101, 102}}},
		{name: "files beyond maxFiles are dropped, oldest first", maxSize: recLen, maxFiles: 3, batches: []int{1, 1, 1, 1, 1},
			want: map[string][]uint64{"plugin.log.2": {102}, "plugin.log.1": {103}, "plugin.log": {104}}},
		{name: "maxFiles 1 cuts the file and keeps no rotated one", maxSize: recLen, maxFiles: 1, batches: []int{1, 1, 1},
			want: map[string][]uint64{"plugin.log": {102}}},
		{name: "maxFiles 0 is maxFiles 1", maxSize: recLen, maxFiles: 0, batches: []int{1, 2},
			want: map[string][]uint64{"plugin.log": {101, 102}}},
		{name: "maxSize 0 never rotates", maxSize: 0, maxFiles: 3, batches: []int{5, 5},
			want: map[string][]uint64{"plugin.log": seqRange(100, 109)}},
		{name: "maxSize negative never rotates", maxSize: -1, maxFiles: 3, batches: []int{2, 2},
			want: map[string][]uint64{"plugin.log": seqRange(100, 103)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "plugin.log")
			r, err := logs.OpenRotating(path, tt.maxSize, tt.maxFiles)
			require.NoError(t, err)
			seq := uint64(100)
			for _, n := range tt.batches {
				b := recs(seq, seq+uint64(n)-1)
				written, err := r.Write(b)
				require.NoError(t, err)
				assert.Equal(t, len(b), written)
				seq += uint64(n)
			}
			require.NoError(t, r.Close())
			assert.Equal(t, tt.want, logContents(t, dir))
		})
	}
}

func TestRotatingFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	r := openRotating(t, path, recLen, 3)
	write(t, r, recs(100, 101))
	write(t, r, rec(102))
	for _, name := range []string{path, path + ".1"} {
		st, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), name)
	}
}

// TestRotatingFileOpenReaderKeepsReading checks that a reader holding a
// file open reads all of it after the writer rotated it away, even when
// rotation unlinked it.
func TestRotatingFileOpenReaderKeepsReading(t *testing.T) {
	tests := []struct {
		name     string
		maxFiles int
	}{
		{name: "renamed", maxFiles: 2},
		{name: "unlinked by maxFiles 1", maxFiles: 1},
		{name: "unlinked as the oldest", maxFiles: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plugin.log")
			r := openRotating(t, path, 2*recLen, tt.maxFiles)
			write(t, r, recs(100, 101))
			reader, err := os.Open(path)
			require.NoError(t, err)
			defer reader.Close()
			for s := uint64(102); s < 108; s++ { // several rotations
				write(t, r, rec(s))
			}
			var seqs []uint64
			require.NoError(t, logs.Scan(reader, func(e logs.Entry) error {
				seqs = append(seqs, e.Seq)
				return nil
			}))
			assert.Equal(t, []uint64{100, 101}, seqs)
		})
	}
}

// TestRotatingFileRotationFails checks that a failed rotation loses
// nothing: the records go to the current file, the error wraps ErrRotate,
// and a later rotation that succeeds drops no more than one file.
func TestRotatingFileRotationFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	r := openRotating(t, path, recLen, 3)
	for s := uint64(100); s < 102; s++ {
		write(t, r, rec(s))
	}
	// plugin.log.1 holds 100; make plugin.log.2 impossible to replace.
	blocker := path + ".2"
	require.NoError(t, os.MkdirAll(filepath.Join(blocker, "x"), 0o755))

	for s := uint64(102); s < 105; s++ {
		n, err := r.Write(rec(s))
		require.Error(t, err)
		assert.ErrorIs(t, err, logs.ErrRotate)
		assert.Equal(t, int(recLen), n, "the records are stored")
	}
	assert.Equal(t, []uint64{101, 102, 103, 104}, seqsIn(t, path))
	assert.Equal(t, []uint64{100}, seqsIn(t, path+".1"))

	require.NoError(t, os.RemoveAll(blocker))
	write(t, r, rec(105))
	assert.Equal(t, map[string][]uint64{
		"plugin.log.2": {100},
		"plugin.log.1": {101, 102, 103, 104},
		"plugin.log":   {105},
	}, logContents(t, dir))
}

// TestRotatingFileNewFileFails checks that rotation that cannot create the
// new file changes nothing.
func TestRotatingFileNewFileFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	r := openRotating(t, path, recLen, 3)
	write(t, r, rec(100))
	require.NoError(t, os.MkdirAll(filepath.Join(path+".new", "x"), 0o755))
	_, err := r.Write(rec(101))
	assert.ErrorIs(t, err, logs.ErrRotate)
	require.NoError(t, os.RemoveAll(path+".new"))
	assert.Equal(t, map[string][]uint64{"plugin.log": {100, 101}}, logContents(t, dir))
}

// TestRotatingFileRemovesStaleFiles checks that files beyond maxFiles, left
// by a larger setting, go at the next rotation.
func TestRotatingFileRemovesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	for k, seq := range map[int]uint64{5: 100, 4: 101, 3: 102, 2: 103, 1: 104} {
		require.NoError(t, os.WriteFile(fmt.Sprintf("%s.%d", path, k), rec(seq), 0o640))
	}
	require.NoError(t, os.WriteFile(path, rec(105), 0o640))
	require.NoError(t, os.WriteFile(path+".backup", rec(999), 0o640))
	r := openRotating(t, path, recLen, 3)
	write(t, r, rec(106))
	assert.Equal(t, map[string][]uint64{
		"plugin.log.2": {104}, "plugin.log.1": {105}, "plugin.log": {106},
		"plugin.log.backup": {999}, // not a rotated file: left alone
	}, logContents(t, dir))
}

func TestRotatingFileClosed(t *testing.T) {
	r, err := logs.OpenRotating(filepath.Join(t.TempDir(), "plugin.log"), 0, 0)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close is idempotent")
	_, err = r.Write(rec(100))
	assert.ErrorIs(t, err, os.ErrClosed)
}

func TestOpenRotatingErrors(t *testing.T) {
	_, err := logs.OpenRotating(filepath.Join(t.TempDir(), "missing", "plugin.log"), 0, 0)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestRotatingFileWriteFails checks that a short write leaves no part of a
// record behind to spoil the next one. RLIMIT_FSIZE makes the write short,
// as a full disk would.
func TestRotatingFileWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.log")
	r := openRotating(t, path, 0, 0)
	write(t, r, rec(100))

	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	limit := syscall.Rlimit{Cur: uint64(recLen + recLen/2), Max: old.Max}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit))
	n, err := r.Write(recs(101, 102))
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old))
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EFBIG)
	assert.NotErrorIs(t, err, logs.ErrRotate)
	assert.Equal(t, 0, n, "the part written was cut off again")

	write(t, r, rec(103))
	assert.Equal(t, []uint64{100, 103}, seqsIn(t, path))
}

// TestOpenRotatingEndsFragment checks that a record cut short by a crash
// does not swallow the next one.
func TestOpenRotatingEndsFragment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.log")
	require.NoError(t, os.WriteFile(path, append(rec(100), rec(101)[:20]...), 0o640))
	seq, err := logs.LastSeq(path)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), seq)

	r, err := logs.OpenRotating(path, 0, 0)
	require.NoError(t, err)
	write(t, r, rec(101))
	require.NoError(t, r.Close())

	var got []uint64
	var corrupt []*logs.CorruptError
	_, err = logs.ReadHistory(path, logs.Filter{OnCorrupt: func(c *logs.CorruptError) { corrupt = append(corrupt, c) }}, 0,
		func(e logs.Entry) error { got = append(got, e.Seq); return nil })
	require.NoError(t, err)
	assert.Equal(t, []uint64{100, 101}, got)
	require.Len(t, corrupt, 1)
	assert.Equal(t, recLen, corrupt[0].Offset)
	assert.False(t, corrupt[0].Incomplete())
}

func TestLastSeq(t *testing.T) {
	big := logs.Entry{Seq: 300, Stream: logs.Stdout, Line: strings.Repeat("\x01", 64<<10)}
	bigRec := append(big.AppendJSON(nil), '\n')
	tests := []struct {
		name  string
		files map[string][]byte // nil: no directory at all
		want  uint64
	}{
		{name: "no log directory", want: 0},
		{name: "empty directory", files: map[string][]byte{}, want: 0},
		{name: "empty current file", files: map[string][]byte{"plugin.log": nil}, want: 0},
		{name: "current file", files: map[string][]byte{"plugin.log": recs(100, 110)}, want: 110},
		{name: "current empty after rotation", files: map[string][]byte{"plugin.log.1": recs(100, 110), "plugin.log": nil}, want: 110},
		{name: "current missing", files: map[string][]byte{"plugin.log.2": recs(100, 104), "plugin.log.1": recs(105, 110)}, want: 110},
		{name: "truncated last record", files: map[string][]byte{"plugin.log": append(recs(100, 110), rec(111)[:30]...)}, want: 110},
		{name: "last record whole but for its newline", files: map[string][]byte{"plugin.log": recs(100, 111)[:12*recLen-1]}, want: 111},
		{name: "current holds only a fragment", files: map[string][]byte{"plugin.log.1": recs(100, 110), "plugin.log": rec(111)[:30]}, want: 110},
		{name: "garbage after the last record", files: map[string][]byte{"plugin.log": append(recs(100, 110), "garbage\n\n"...)}, want: 110},
		{name: "last record larger than the read window", files: map[string][]byte{"plugin.log": append(recs(100, 110), bigRec...)}, want: 300},
		{name: "rotated file numbers above 9 sort as numbers", files: map[string][]byte{"plugin.log.10": rec(100), "plugin.log.9": rec(101)}, want: 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "logs")
			if tt.files != nil {
				require.NoError(t, os.Mkdir(dir, 0o700))
			}
			for name, data := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o640))
			}
			got, err := logs.LastSeq(filepath.Join(dir, "plugin.log"))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLastSeqUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	require.NoError(t, os.Mkdir(path, 0o700)) // a directory is no log
	require.NoError(t, os.WriteFile(path+".1", rec(100), 0o640))
	seq, err := logs.LastSeq(path)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), seq, "a directory in the way is not a log file")

	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink("plugin.log", path)) // a loop
	_, err = logs.LastSeq(path)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, os.ErrNotExist))
}

// TestRotatingFileNeverWaitsForReaders checks that while a reader holds the
// directory lock, Write appends without rotating and without error, and
// rotates at the first Write after.
func TestRotatingFileNeverWaitsForReaders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	r := openRotating(t, path, recLen, 3)
	write(t, r, rec(100))

	d, err := os.Open(dir)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, syscall.Flock(int(d.Fd()), syscall.LOCK_SH))
	write(t, r, rec(101))
	assert.Equal(t, map[string][]uint64{"plugin.log": {100, 101}}, logContents(t, dir))

	require.NoError(t, syscall.Flock(int(d.Fd()), syscall.LOCK_UN))
	write(t, r, rec(102))
	assert.Equal(t, map[string][]uint64{"plugin.log.1": {100, 101}, "plugin.log": {102}}, logContents(t, dir))
}

// TestRotatingReserve fills a small filesystem: with a reserve, writes stop
// while the reserve is still free and fail with ErrReserve; without one,
// they go on until the disk is full.
func TestRotatingReserve(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a tmpfs: needs root")
	}
	const size, reserve = 256 << 10, 64 << 10
	dir := t.TempDir()
	require.NoError(t, syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)))
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	free := func() int64 {
		var st syscall.Statfs_t
		require.NoError(t, syscall.Statfs(dir, &st))
		return int64(st.Bfree) * st.Bsize
	}

	r := openRotating(t, filepath.Join(dir, "plugin.log"), 0, 1)
	r.SetReserve(reserve)
	batch := recs(100, 199)
	var err error
	written := 0
	for written = 0; written*len(batch) < 2*size; written++ {
		if _, err = r.Write(batch); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, logs.ErrReserve, "after %d batches", written)
	assert.Positive(t, written, "the log took what was above the reserve")
	assert.GreaterOrEqual(t, free(), int64(reserve), "the reserve is left free")
	assert.Less(t, free(), int64(reserve)+int64(len(batch))+4096, "the log stopped at the reserve, not before")

	// The space is there for whoever the reserve is for.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), make([]byte, reserve/2), 0o600))

	r.SetReserve(0)
	for range 2 * size / len(batch) {
		if _, err = r.Write(batch); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, syscall.ENOSPC, "without a reserve the log fills the disk")
	assert.NotErrorIs(t, err, logs.ErrReserve)
}
