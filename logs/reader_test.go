package logs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

var t0 = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

// genEntry is entry seq of a generated log: one a second from t0, every
// third on stderr, every seventh an "ERROR".
func genEntry(seq uint64) logs.Entry {
	e := logs.Entry{Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second).UnixNano(), Stream: logs.Stdout, Line: fmt.Sprintf("line %d", seq)}
	if seq%3 == 0 {
		e.Stream = logs.Stderr
	}
	if seq%7 == 0 {
		e.Line += " ERROR"
	}
	return e
}

// writeLog writes entries from … to through a RotatingFile, in batches of
// batch, and returns the log's path.
func writeLog(t testing.TB, dir string, from, to uint64, batch int, maxSize int64, maxFiles int) string {
	t.Helper()
	path := filepath.Join(dir, "plugin.log")
	r, err := logs.OpenRotating(path, maxSize, maxFiles)
	require.NoError(t, err)
	defer r.Close()
	var buf []byte
	for s := from; s <= to; s++ {
		buf = append(genEntry(s).AppendJSON(buf), '\n')
		if (s-from+1)%uint64(batch) == 0 || s == to {
			_, err := r.Write(buf)
			require.NoError(t, err)
			buf = buf[:0]
		}
	}
	return path
}

// allEntries reads every entry of the log at path with Scan, the simplest
// reader, as a reference.
func allEntries(t *testing.T, path string) []logs.Entry {
	t.Helper()
	names, err := logs.Files(path)
	require.NoError(t, err)
	var all []logs.Entry
	for _, name := range names {
		f, err := os.Open(name)
		require.NoError(t, err)
		require.NoError(t, logs.Scan(f, func(e logs.Entry) error {
			all = append(all, e)
			return nil
		}))
		f.Close()
	}
	return all
}

// collect runs ReadHistory and returns what it passed to fn and to
// OnCorrupt.
func collect(t *testing.T, path string, f logs.Filter, tail int) (got []logs.Entry, lastSeq uint64, corrupt []*logs.CorruptError) {
	t.Helper()
	f.OnCorrupt = func(c *logs.CorruptError) { corrupt = append(corrupt, c) }
	lastSeq, err := logs.ReadHistory(path, f, tail, func(e logs.Entry) error {
		// Copied: with f.InPlace the strings are the reader's buffer.
		e.Line, e.Raw = strings.Clone(e.Line), strings.Clone(e.Raw)
		got = append(got, withoutRaw(t, e))
		return nil
	})
	require.NoError(t, err)
	return got, lastSeq, corrupt
}

// withoutRaw checks that e.Raw, if set, is a record of e and returns e
// without it, to be compared with the entries a test wrote.
func withoutRaw(t *testing.T, e logs.Entry) logs.Entry {
	t.Helper()
	if e.Raw != "" {
		var again logs.Entry
		require.NoError(t, json.Unmarshal([]byte(e.Raw), &again))
		e.Raw = ""
		require.Equal(t, e, again, "Raw is the record of the entry")
	}
	return e
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name  string
		files []string // nil: no directory
		dirs  []string
		want  []string
	}{
		{name: "no directory", want: []string{}},
		{name: "empty directory", files: []string{}, want: []string{}},
		{name: "current only", files: []string{"plugin.log"}, want: []string{"plugin.log"}},
		{name: "oldest first, numerically", files: []string{"plugin.log", "plugin.log.1", "plugin.log.2", "plugin.log.10", "plugin.log.9"},
			want: []string{"plugin.log.10", "plugin.log.9", "plugin.log.2", "plugin.log.1", "plugin.log"}},
		{name: "rotated files without the current one", files: []string{"plugin.log.2", "plugin.log.1"},
			want: []string{"plugin.log.2", "plugin.log.1"}},
		{name: "gaps", files: []string{"plugin.log.4", "plugin.log.1", "plugin.log"},
			want: []string{"plugin.log.4", "plugin.log.1", "plugin.log"}},
		{name: "other files ignored",
			files: []string{"plugin.log", "plugin.log.new", "plugin.log.01", "plugin.log.0", "plugin.log.-1", "plugin.log.1x", "plugin.log.", "other.log.1", "xplugin.log"},
			want:  []string{"plugin.log"}},
		{name: "directories ignored", files: []string{"plugin.log.1"}, dirs: []string{"plugin.log", "plugin.log.2"},
			want: []string{"plugin.log.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "logs")
			if tt.files != nil {
				require.NoError(t, os.Mkdir(dir, 0o700))
			}
			for _, name := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o640))
			}
			for _, name := range tt.dirs {
				require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o700))
			}
			got, err := logs.Files(filepath.Join(dir, "plugin.log"))
			require.NoError(t, err)
			want := make([]string, 0, len(tt.want))
			for _, name := range tt.want {
				want = append(want, filepath.Join(dir, name))
			}
			assert.Equal(t, want, append([]string{}, got...))
		})
	}
}

func TestFilterMatch(t *testing.T) {
	e := logs.Entry{Seq: 10, Time: t0.UnixNano(), Stream: logs.Stderr, Line: "connect: \xffrefused"}
	tests := []struct {
		name   string
		filter logs.Filter
		want   bool
	}{
		{name: "zero filter matches all", filter: logs.Filter{}, want: true},
		{name: "since equal is in", filter: logs.Filter{Since: t0}, want: true},
		{name: "since later is out", filter: logs.Filter{Since: t0.Add(time.Nanosecond)}, want: false},
		{name: "until equal is out", filter: logs.Filter{Until: t0}, want: false},
		{name: "until later is in", filter: logs.Filter{Until: t0.Add(time.Nanosecond)}, want: true},
		{name: "since in another zone", filter: logs.Filter{Since: t0.In(time.FixedZone("X", 3600))}, want: true},
		{name: "since far in the past", filter: logs.Filter{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, want: true},
		{name: "until far in the future", filter: logs.Filter{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, want: true},
		{name: "stream", filter: logs.Filter{Stream: logs.Stderr}, want: true},
		{name: "other stream", filter: logs.Filter{Stream: logs.Stdout}, want: false},
		{name: "grep", filter: logs.Filter{Grep: regexp.MustCompile(`connect: .refused`)}, want: true},
		{name: "grep on the raw bytes", filter: logs.Filter{Grep: regexp.MustCompile(`\xff`)}, want: false},
		{name: "grep no match", filter: logs.Filter{Grep: regexp.MustCompile(`^refused`)}, want: false},
		{name: "after a lower seq", filter: logs.Filter{AfterSeq: 9}, want: true},
		{name: "after its own seq", filter: logs.Filter{AfterSeq: 10}, want: false},
		{name: "before a higher seq", filter: logs.Filter{BeforeSeq: 11}, want: true},
		{name: "before its own seq", filter: logs.Filter{BeforeSeq: 10}, want: false},
		{name: "all conditions", filter: logs.Filter{Since: t0, Until: t0.Add(time.Second), Stream: logs.Stderr, Grep: regexp.MustCompile("refused"), AfterSeq: 1}, want: true},
		{name: "all but one", filter: logs.Filter{Since: t0, Until: t0.Add(time.Second), Stream: logs.Stdout, Grep: regexp.MustCompile("refused"), AfterSeq: 1}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.filter.Match(e))
		})
	}
}

func TestFilterGrepRawBytes(t *testing.T) {
	// regexp matches invalid UTF-8 byte by byte as U+FFFD.
	f := logs.Filter{Grep: regexp.MustCompile(`a\x{FFFD}b`)}
	assert.True(t, f.Match(logs.Entry{Line: "a\xffb"}))
	assert.False(t, f.Match(logs.Entry{Line: "a\\xffb"}), "the escaped form is not what is matched")
}

func TestReadHistory(t *testing.T) {
	dir := t.TempDir()
	// 600 entries of ~90 bytes in files of 4 KiB: about 14 files, of
	// which 10 are kept, so the history starts well after seq 1.
	path := writeLog(t, dir, 1, 600, 7, 4<<10, 10)
	names, err := logs.Files(path)
	require.NoError(t, err)
	require.Len(t, names, 10)
	all := allEntries(t, path)
	require.Greater(t, all[0].Seq, uint64(1))
	require.Equal(t, uint64(600), all[len(all)-1].Seq)

	tests := []struct {
		name   string
		filter logs.Filter
	}{
		{name: "everything", filter: logs.Filter{}},
		{name: "stderr", filter: logs.Filter{Stream: logs.Stderr}},
		{name: "since", filter: logs.Filter{Since: t0.Add(400 * time.Second)}},
		{name: "until", filter: logs.Filter{Until: t0.Add(300 * time.Second)}},
		{name: "since until", filter: logs.Filter{Since: t0.Add(250 * time.Second), Until: t0.Add(260 * time.Second)}},
		{name: "grep", filter: logs.Filter{Grep: regexp.MustCompile(`ERROR$`)}},
		{name: "after seq", filter: logs.Filter{AfterSeq: 550}},
		{name: "after seq in an old file", filter: logs.Filter{AfterSeq: all[5].Seq}},
		{name: "after seq before the history", filter: logs.Filter{AfterSeq: 1}},
		{name: "after the last seq", filter: logs.Filter{AfterSeq: 600}},
		{name: "grep and stream", filter: logs.Filter{Grep: regexp.MustCompile(`ERROR`), Stream: logs.Stdout}},
		{name: "nothing matches", filter: logs.Filter{Grep: regexp.MustCompile(`nowhere`)}},
	}
	for _, tt := range tests {
		var want []logs.Entry
		for _, e := range all {
			if tt.filter.Match(e) {
				want = append(want, e)
			}
		}
		for _, tail := range []int{0, 1, 10, len(want), len(want) + 1, -1} {
			t.Run(fmt.Sprintf("%s tail %d", tt.name, tail), func(t *testing.T) {
				got, lastSeq, corrupt := collect(t, path, tt.filter, tail)
				inPlace := tt.filter
				inPlace.InPlace = true
				gotInPlace, lastSeqInPlace, corruptInPlace := collect(t, path, inPlace, tail)
				assert.Equal(t, got, gotInPlace, "decoded in place")
				assert.Equal(t, lastSeq, lastSeqInPlace)
				assert.Equal(t, corrupt, corruptInPlace)
				wantTail := want
				switch {
				case tail < 0:
					wantTail = nil
				case tail > 0 && tail < len(want):
					wantTail = want[len(want)-tail:]
				}
				assert.Equal(t, wantTail, got)
				assert.Equal(t, uint64(600), lastSeq)
				assert.Empty(t, corrupt)
			})
		}
	}
}

func TestReadHistoryNoLog(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{name: "no directory", setup: func(t *testing.T, dir string) { require.NoError(t, os.Remove(dir)) }},
		{name: "empty directory", setup: func(t *testing.T, dir string) {}},
		{name: "empty file", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plugin.log"), nil, 0o640))
		}},
	}
	for _, tt := range tests {
		for _, tail := range []int{0, 5, -1} {
			t.Run(fmt.Sprintf("%s tail %d", tt.name, tail), func(t *testing.T) {
				dir := t.TempDir()
				tt.setup(t, dir)
				got, lastSeq, corrupt := collect(t, filepath.Join(dir, "plugin.log"), logs.Filter{}, tail)
				assert.Empty(t, got)
				assert.Zero(t, lastSeq)
				assert.Empty(t, corrupt)
			})
		}
	}
}

func TestReadHistoryCorrupt(t *testing.T) {
	tooLong := make([]byte, 600<<10)
	for i := range tooLong {
		tooLong[i] = 'x'
	}
	big := logs.Entry{Seq: 104, Stream: logs.Stdout, Line: string(make([]byte, 64<<10))} // 64 KiB of NUL: 6 bytes each in JSON
	bigRec := append(big.AppendJSON(nil), '\n')
	type report struct {
		file       string
		offset     int64
		incomplete bool
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name        string
		files       map[string][]byte
		wantSeqs    []uint64
		wantLastSeq uint64
		wantReports []report
	}{
		{
			name:        "garbage line in a rotated file",
			files:       map[string][]byte{"plugin.log.1": cat(rec(100), []byte("garbage\n"), rec(101)), "plugin.log": rec(102)},
			wantSeqs:    []uint64{100, 101, 102},
			wantLastSeq: 102,
			wantReports: []report{{file: "plugin.log.1", offset: recLen}},
		},
		{
			name:        "write in progress at the end of the current file",
			files:       map[string][]byte{"plugin.log": cat(recs(100, 102), rec(103)[:25])},
			wantSeqs:    []uint64{100, 101, 102},
			wantLastSeq: 102,
			wantReports: []report{{file: "plugin.log", offset: 3 * recLen, incomplete: true}},
		},
		{
			name:        "whole record without its newline at the end",
			files:       map[string][]byte{"plugin.log": recs(100, 103)[:4*recLen-1]},
			wantSeqs:    []uint64{100, 101, 102, 103},
			wantLastSeq: 103,
		},
		{
			name:        "fragment at the end of a rotated file is damage",
			files:       map[string][]byte{"plugin.log.1": cat(rec(100), rec(101)[:25]), "plugin.log": rec(102)},
			wantSeqs:    []uint64{100, 102},
			wantLastSeq: 102,
			wantReports: []report{{file: "plugin.log.1", offset: recLen}},
		},
		{
			name:        "line too long to be a record",
			files:       map[string][]byte{"plugin.log": cat(rec(100), tooLong, []byte("\n"), rec(101))},
			wantSeqs:    []uint64{100, 101},
			wantLastSeq: 101,
			wantReports: []report{{file: "plugin.log", offset: recLen}},
		},
		{
			name:        "too long line at the start of a file",
			files:       map[string][]byte{"plugin.log": cat(tooLong, []byte("\n"), rec(101))},
			wantSeqs:    []uint64{101},
			wantLastSeq: 101,
			wantReports: []report{{file: "plugin.log", offset: 0}},
		},
		{
			name:        "the largest record there can be",
			files:       map[string][]byte{"plugin.log": cat(rec(103), bigRec, rec(105))},
			wantSeqs:    []uint64{103, 104, 105},
			wantLastSeq: 105,
		},
		{
			name:        "empty lines are skipped silently",
			files:       map[string][]byte{"plugin.log": cat([]byte("\n"), rec(100), []byte("\n\n"), rec(101))},
			wantSeqs:    []uint64{100, 101},
			wantLastSeq: 101,
		},
		{
			name:        "nothing but garbage",
			files:       map[string][]byte{"plugin.log": []byte("{\"seq\":1\n[]\nnull x\n")},
			wantReports: []report{{file: "plugin.log", offset: 0}, {file: "plugin.log", offset: 9}, {file: "plugin.log", offset: 12}},
		},
	}
	for _, tt := range tests {
		for _, tail := range []int{0, 1000} {
			t.Run(fmt.Sprintf("%s tail %d", tt.name, tail), func(t *testing.T) {
				dir := t.TempDir()
				for name, data := range tt.files {
					require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o640))
				}
				got, lastSeq, corrupt := collect(t, filepath.Join(dir, "plugin.log"), logs.Filter{}, tail)
				var seqs []uint64
				for _, e := range got {
					seqs = append(seqs, e.Seq)
				}
				assert.Equal(t, tt.wantSeqs, seqs)
				assert.Equal(t, tt.wantLastSeq, lastSeq)
				var reports []report
				for _, c := range corrupt {
					reports = append(reports, report{file: filepath.Base(c.File), offset: c.Offset, incomplete: c.Incomplete()})
					assert.Contains(t, c.Error(), "corrupt log record at "+c.File)
				}
				assert.ElementsMatch(t, tt.wantReports, reports)
			})
		}
	}
}

// TestReadHistoryReadsOnlyWhatItNeeds makes the parts of the log a read
// should not touch unreadable, and checks that it does not report them.
func TestReadHistoryReadsOnlyWhatItNeeds(t *testing.T) {
	garbage := []byte("garbage\n")
	tests := []struct {
		name   string
		filter logs.Filter
		tail   int
	}{
		{name: "tail stops when it has enough", tail: 3},
		{name: "tail stops at AfterSeq", filter: logs.Filter{AfterSeq: 104}, tail: 100},
		{name: "tail < 0 reads the last record only", tail: -1},
		{name: "AfterSeq skips files that end before it", filter: logs.Filter{AfterSeq: 104}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := append(append(append([]byte{}, rec(100)...), garbage...), recs(101, 104)...)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plugin.log.1"), old, 0o640))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plugin.log"), recs(105, 107), 0o640))
			got, lastSeq, corrupt := collect(t, filepath.Join(dir, "plugin.log"), tt.filter, tt.tail)
			assert.Empty(t, corrupt, "read the old file's garbage")
			assert.Equal(t, uint64(107), lastSeq)
			if tt.tail >= 0 {
				require.Len(t, got, 3)
				assert.Equal(t, uint64(105), got[0].Seq)
			}
		})
	}
}

func TestReadHistoryStopsOnFnError(t *testing.T) {
	path := writeLog(t, t.TempDir(), 1, 50, 5, 1<<10, 100)
	stop := errors.New("client gone")
	for _, tail := range []int{0, 20} {
		t.Run(fmt.Sprint("tail ", tail), func(t *testing.T) {
			calls := 0
			_, err := logs.ReadHistory(path, logs.Filter{}, tail, func(logs.Entry) error {
				calls++
				if calls == 3 {
					return stop
				}
				return nil
			})
			assert.ErrorIs(t, err, stop)
			assert.Equal(t, 3, calls)
		})
	}
}

// TestReadHistoryWhileRotating reads the log over and over while a writer
// appends and rotates it, and checks every read for gaps and duplicates.
func TestReadHistoryWhileRotating(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.log")
	w, err := logs.OpenRotating(path, 2<<10, 4)
	require.NoError(t, err)
	defer w.Close()

	var written atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var buf []byte
		for seq := uint64(1); ; {
			select {
			case <-stop:
				return
			default:
			}
			buf = buf[:0]
			for range 10 {
				buf = append(genEntry(seq).AppendJSON(buf), '\n')
				seq++
			}
			if _, err := w.Write(buf); err != nil {
				t.Error(err)
				return
			}
			written.Store(seq - 1)
			runtime.Gosched()
		}
	}()

	var reads, rotations atomic.Int64
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tail := []int{0, 50}[r]
			var firstSeen uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := written.Load()
				var got []logs.Entry
				f := logs.Filter{OnCorrupt: func(c *logs.CorruptError) {
					if !c.Incomplete() {
						t.Errorf("corrupt record: %v", c)
					}
				}}
				lastSeq, err := logs.ReadHistory(path, f, tail, func(e logs.Entry) error {
					got = append(got, e)
					return nil
				})
				if !assert.NoError(t, err) {
					return
				}
				reads.Add(1)
				if !assert.GreaterOrEqual(t, lastSeq, before, "read less than was written before it began") {
					return
				}
				if len(got) == 0 {
					continue
				}
				if firstSeen != 0 && got[0].Seq != firstSeen {
					rotations.Add(1)
				}
				firstSeen = got[0].Seq
				assert.Equal(t, lastSeq, got[len(got)-1].Seq, "the last entry read is lastSeq")
				if tail > 0 && lastSeq >= uint64(tail) {
					assert.Len(t, got, tail)
				}
				for i := 1; i < len(got); i++ {
					if got[i].Seq != got[i-1].Seq+1 {
						t.Errorf("read %d after %d (tail %d)", got[i].Seq, got[i-1].Seq, tail)
						return
					}
				}
			}
		}()
	}
	// Enough reads, and enough of them across a rotation, however fast the
	// machine runs the goroutines; the deadline only ends a stuck test.
	assert.Eventually(t, func() bool { return reads.Load() >= 1000 && rotations.Load() >= 50 }, time.Minute, time.Millisecond,
		"reads while the writer rotates")
	close(stop)
	wg.Wait()
	t.Logf("%d reads, %d entries written, %d reads saw the log's start move", reads.Load(), written.Load(), rotations.Load())
}
