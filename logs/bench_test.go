package logs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// TestMain removes the log the benchmarks share.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchLog.dir != "" {
		os.RemoveAll(benchLog.dir)
	}
	os.Exit(code)
}

// benchLines are lines as plugins write them.
var benchLines = map[string]string{
	"plain":  "GET /VolumeDriver.Mount 200 1.234ms volume=data-0042",
	"logfmt": `time="2024-05-06T07:08:09.123456789Z" level=info msg="mounted volume \"data-0042\" at /mnt/data-0042" plugin=sshfs duration=1.234ms`,
	"json":   `{"time":"2024-05-06T07:08:09.123456789Z","level":"warn","msg":"slow mount <data-0042>","duration_ms":1234}`,
	"64KiB":  strings.Repeat("0123456789abcdef", 4<<10),
}

func benchEntry(line string) Entry {
	return Entry{Seq: 123456789, Time: 1714979289123456789, Stream: Stdout, Line: line}
}

// oldMarshal is MarshalJSON as it was before AppendJSON: wireEntry
// through encoding/json.
func oldMarshal(e Entry) ([]byte, error) {
	w := wireEntry{Seq: e.Seq, Time: e.Time, Stream: e.Stream, Partial: e.Partial}
	if utf8.ValidString(e.Line) {
		w.Line = e.Line
	} else {
		w.LineB64 = base64.StdEncoding.EncodeToString([]byte(e.Line))
	}
	return json.Marshal(w)
}

func BenchmarkEntryJSON(b *testing.B) {
	for _, kind := range []string{"plain", "logfmt", "json", "64KiB"} {
		e := benchEntry(benchLines[kind])
		b.Run(kind+"/AppendJSON", func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(e.Line)))
			b.ReportAllocs()
			for b.Loop() {
				buf = e.AppendJSON(buf[:0])
			}
		})
		b.Run(kind+"/json.Marshal", func(b *testing.B) {
			b.SetBytes(int64(len(e.Line)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(e)
			}
		})
		b.Run(kind+"/old json.Marshal", func(b *testing.B) {
			b.SetBytes(int64(len(e.Line)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = json.Marshal(oldMarshalEntry(e))
			}
		})
	}
}

// oldMarshalEntry encodes as Entry.MarshalJSON did before AppendJSON.
type oldMarshalEntry Entry

func (e oldMarshalEntry) MarshalJSON() ([]byte, error) { return oldMarshal(Entry(e)) }

func BenchmarkEntryDecode(b *testing.B) {
	for _, kind := range []string{"plain", "logfmt", "json", "64KiB"} {
		rec := benchEntry(benchLines[kind]).AppendJSON(nil)
		b.Run(kind+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				var e Entry
				_ = decodeEntry(rec, &e)
			}
		})
		b.Run(kind+"/in", func(b *testing.B) {
			// As the daemon decodes a batch from its monitor: the records
			// copied into one string, their lines substrings of it.
			const n = 256
			batch := []byte(strings.Repeat(string(rec), n))
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				all := string(batch)
				for i := 0; i < n; i++ {
					var e Entry
					_ = DecodeEntryIn(all[i*len(rec):(i+1)*len(rec)], &e)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
		})
		b.Run(kind+"/old", func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				var e Entry
				_ = json.Unmarshal(rec, (*oldEntry)(&e))
			}
		})
	}
}

// oldEntry decodes as Entry.UnmarshalJSON did before the fast path.
type oldEntry Entry

func (e *oldEntry) UnmarshalJSON(b []byte) error { return (*Entry)(e).decodeSlow(b) }

func BenchmarkLineLevel(b *testing.B) {
	for _, kind := range []string{"plain", "logfmt", "json", "64KiB"} {
		line := benchLines[kind]
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				LineLevel(line)
			}
		})
	}
}

// oldTag is Tag as it was: the stream's level, logrus's WithField and
// WithTime.
func oldTag(l *logrus.Logger, id string, e Entry) {
	level := logrus.InfoLevel
	if e.Stream == Stderr {
		level = logrus.ErrorLevel
	}
	l.WithField("plugin", id).WithTime(time.Unix(0, e.Time)).Log(level, e.Line)
}

func BenchmarkTag(b *testing.B) {
	const id = "4c2f0f5d6a0123456789abcdef0123456789abcdef0123456789abcdef012345"
	l := NewDaemonLogger()
	l.SetOutput(io.Discard)
	for _, kind := range []string{"plain", "logfmt", "json", "debug (filtered)"} {
		line, ok := benchLines[kind]
		if !ok {
			line = "time=x level=debug msg=noise"
		}
		e := benchEntry(line)
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Tag(l, id, e)
			}
		})
		b.Run(kind+"/old", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				oldTag(l, id, e)
			}
		})
	}
}

func BenchmarkEscape(b *testing.B) {
	for _, line := range []string{benchLines["logfmt"], "\x1b[31merror\x1b[0m: bad byte \xff"} {
		b.Run(fmt.Sprintf("%.10q", line), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Escape(line)
			}
		})
	}
}

// benchLog is a 50 MiB log in 10 MiB files, written once for the
// benchmarks that read it.
var benchLog struct {
	once  sync.Once
	dir   string
	path  string
	bytes int64
	lines int
	err   error
}

func writeBenchLog() {
	benchLog.dir, benchLog.err = os.MkdirTemp("", "logs-bench-")
	if benchLog.err != nil {
		return
	}
	benchLog.path = filepath.Join(benchLog.dir, "plugin.log")
	r, err := OpenRotating(benchLog.path, DefaultMaxSize, 6)
	if err != nil {
		benchLog.err = err
		return
	}
	defer r.Close()
	kinds := []string{"plain", "logfmt", "json"}
	var buf []byte
	t := time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC).UnixNano()
	for seq := uint64(1); benchLog.bytes < 50<<20; seq++ {
		e := Entry{Seq: seq, Time: t + int64(seq)*1000, Stream: Stdout, Line: fmt.Sprintf("%s #%d", benchLines[kinds[seq%3]], seq)}
		if seq%5 == 0 {
			e.Stream = Stderr
		}
		buf = append(e.AppendJSON(buf), '\n')
		benchLog.lines++
		if seq%100 == 0 {
			n, err := r.Write(buf)
			if err != nil {
				benchLog.err = err
				return
			}
			benchLog.bytes += int64(n)
			buf = buf[:0]
		}
	}
}

func openBenchLog(b *testing.B) string {
	benchLog.once.Do(writeBenchLog)
	if benchLog.err != nil {
		b.Fatal(benchLog.err)
	}
	return benchLog.path
}

func BenchmarkReadHistory(b *testing.B) {
	path := openBenchLog(b)
	tests := []struct {
		name   string
		filter Filter
		tail   int
	}{
		{name: "tail 10", tail: 10},
		{name: "tail 10 grep rare", filter: Filter{Grep: regexp.MustCompile(`#\d*77777$`)}, tail: 10},
		{name: "last seq only", tail: -1},
		{name: "full", tail: 0},
		{name: "full grep", filter: Filter{Grep: regexp.MustCompile(`slow mount`)}, tail: 0},
		{name: "full stderr", filter: Filter{Stream: Stderr}, tail: 0},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				if _, err := ReadHistory(path, tt.filter, tt.tail, func(Entry) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			if tt.tail == 0 {
				b.SetBytes(benchLog.bytes)
				b.ReportMetric(float64(benchLog.lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			}
			b.ReportMetric(float64(n), "entries")
		})
	}
}

func BenchmarkRotatingFileWrite(b *testing.B) {
	var batch []byte
	for seq := uint64(1); seq <= 100; seq++ {
		batch = append(benchEntry(benchLines["logfmt"]).AppendJSON(batch), '\n')
	}
	r, err := OpenRotating(filepath.Join(b.TempDir(), "plugin.log"), DefaultMaxSize, DefaultMaxFiles)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for b.Loop() {
		if _, err := r.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkTagBatch(b *testing.B) {
	const id = "4c2f0f5d6a0123456789abcdef0123456789abcdef0123456789abcdef012345"
	l := NewDaemonLogger()
	l.SetOutput(io.Discard)
	batch := make([]Entry, 256)
	for i := range batch {
		batch[i] = benchEntry(benchLines["plain"])
	}
	b.ReportAllocs()
	for b.Loop() {
		TagBatch(l, id, batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/line")
}

// BenchmarkAPIDecode is what a follower (plugdbg logs -f) spends to read
// one line of the API's stream: DecodeAPIRecord, and encoding/json as the
// client used before.
func BenchmarkAPIDecode(b *testing.B) {
	const id = "4c2f0f5d6a0123456789abcdef0123456789abcdef0123456789abcdef012345"
	for _, kind := range []string{"plain", "logfmt"} {
		r := Record{Plugin: id, Name: "flood:latest", Seq: 123456789, Time: 1714979289123456789, Stream: Stdout, Line: benchLines[kind]}
		rec := r.AppendJSON(nil, APIForm)
		b.Run(kind+"/fast", func(b *testing.B) {
			var r Record
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				if !DecodeAPIRecord(rec, &r) {
					b.Fatal("not decoded")
				}
			}
		})
		b.Run(kind+"/json", func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				var l struct {
					Plugin, Name string
					Seq          uint64
					Time         int64
					Stream, Line string
					LineB64      string `json:"line_b64"`
					Partial      bool
					Skipped      uint64
					Error        string
				}
				_ = json.Unmarshal(rec, &l)
			}
		})
	}
}

// BenchmarkFloodDecode is the history reader decoding the records of a
// flood (100-byte lines, nothing to escape), as a lagging follower or the
// daemon catching up on its monitor does: each line a string of its own
// (decodeEntry) or copied into an arena (decodeEntryArena).
func BenchmarkFloodDecode(b *testing.B) {
	recs := make([][]byte, 1000)
	for i := range recs {
		line := fmt.Appendf(nil, "flood %07d %s", i, strings.Repeat("x", 86))
		recs[i] = AppendLineJSON(nil, uint64(i+1), 1700000000000000000+int64(i)*1250, Stdout, line, false)
	}
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		var e Entry
		for i := 0; b.Loop(); i++ {
			_ = decodeEntry(recs[i%len(recs)], &e)
		}
	})
	b.Run("arena", func(b *testing.B) {
		b.ReportAllocs()
		var e Entry
		var arena []byte
		for i := 0; b.Loop(); i++ {
			_ = decodeEntryArena(recs[i%len(recs)], &e, &arena)
		}
	})
}
