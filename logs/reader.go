package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// ErrRecordTooLong is the cause of a CorruptError for a line of a log file
// longer than any record a monitor writes.
var ErrRecordTooLong = errors.New("log record too long")

// Files returns the names of the files of the log at path that exist,
// oldest first: path.N … path.1, then path. It returns none, and no error,
// when the log's directory does not exist.
func Files(path string) ([]string, error) {
	ks, current, err := listLog(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ks)+1)
	for _, k := range ks {
		names = append(names, rotatedName(path, k))
	}
	if current {
		names = append(names, path)
	}
	return names, nil
}

// listLog returns the numbers k of the files path.k that exist, highest
// (oldest) first, and whether path itself exists.
func listLog(path string) (ks []int, current bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("list log files: %w", err)
	}
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		if de.Name() == base {
			current = true
			continue
		}
		suffix, ok := strings.CutPrefix(de.Name(), base+".")
		if !ok || suffix == "" || suffix[0] == '0' {
			continue
		}
		if k, err := strconv.Atoi(suffix); err == nil && k > 0 {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b int) int { return b - a })
	return ks, current, nil
}

// Filter selects entries of a log.
type Filter struct {
	Since  time.Time      // if not zero, only entries at or after Since
	Until  time.Time      // if not zero, only entries before Until
	Stream string         // if not "", only entries of this stream
	Grep   *regexp.Regexp // if not nil, only entries whose raw line it matches
	// AfterSeq, if not 0, selects only entries with a greater Seq. Readers
	// rely on Seq growing along the log to stop early.
	AfterSeq uint64
	// BeforeSeq, if not 0, selects only entries with a smaller Seq: a page
	// of history before a line, however many lines share its time.
	BeforeSeq uint64

	// OnCorrupt, if not nil, is called for each record that ReadHistory
	// skips because it cannot be decoded. It takes no part in Match.
	OnCorrupt func(*CorruptError)
	// InPlace tells ReadHistory that its fn keeps no entry, nor any string
	// of one, past its call: each record is then decoded where it was
	// read, rather than copied into an arena first. With a tail, which
	// keeps entries while it reads, it is ignored. It takes no part in
	// Match.
	InPlace bool
}

// Match reports whether e passes every condition of f. Entries are matched
// one by one: each Partial piece of a long line on its own.
func (f Filter) Match(e Entry) bool {
	if e.Seq <= f.AfterSeq && f.AfterSeq != 0 || e.Seq >= f.BeforeSeq && f.BeforeSeq != 0 {
		return false
	}
	if f.Stream != "" && e.Stream != f.Stream {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t := time.Unix(0, e.Time)
		if !f.Since.IsZero() && t.Before(f.Since) {
			return false
		}
		if !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	return f.Grep == nil || f.Grep.MatchString(e.Line)
}

// CorruptError describes a record that a reader skipped.
type CorruptError struct {
	File   string // name of the file when it was opened
	Offset int64  // where the record starts in the file
	// Err says why: a JSON or base64 error, ErrRecordTooLong, or
	// io.ErrUnexpectedEOF for a record without its newline at the end of
	// the current file, which is normally a write in progress.
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt log record at %s:%d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Incomplete reports whether the record is the unfinished end of the
// current file, most likely a record being written, rather than damage.
func (e *CorruptError) Incomplete() bool { return errors.Is(e.Err, io.ErrUnexpectedEOF) }

// ReadHistory calls fn, in log order, for the entries of the log at path
// (its rotated files, then the current one) that f matches, until fn
// returns an error, which ReadHistory then returns.
//
// tail > 0 keeps only the last tail matching entries (each Partial piece
// of a long line counts as one), and reads the files backwards from the
// end, only as far as it needs; tail == 0 keeps all of them; tail < 0
// none. Records that cannot be decoded are skipped and passed to
// f.OnCorrupt; they are not errors.
//
// lastSeq is the highest Seq of the records ReadHistory read, matching or
// not. Unless fn stopped the read, that is the Seq of the last record in
// the log when ReadHistory opened it, 0 if it had none: a follower that
// buffers live entries from before the call, then reads the history,
// continues with the live entries after lastSeq without a gap or a
// duplicate.
//
// ReadHistory may run while a RotatingFile writes and rotates the log. It
// opens every file first, retrying if a rotation renamed them meanwhile,
// and reads each up to the size it had then; a record the writer appended
// later is not read, and is in the live stream after lastSeq.
//
// The Lines of the entries fn gets share memory, 32 KiB arenas, rather
// than being a string each: an entry kept keeps its arena in memory. With
// f.InPlace they point into the reader's buffer, and are valid only until
// fn returns.
func ReadHistory(path string, f Filter, tail int, fn func(Entry) error) (lastSeq uint64, err error) {
	files, err := openLog(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, lf := range files {
			lf.f.Close()
		}
	}()
	if tail == 0 {
		return readForward(files, f, fn)
	}
	return readBackward(files, f, tail, fn)
}

// logFile is one file of a log, opened.
type logFile struct {
	name string
	f    *os.File
	info os.FileInfo // as opened; its size bounds the read
}

// openAttempts bounds the retries of openLog when rotations keep renaming
// the files while it opens them.
const openAttempts = 5

// openLog opens the files of the log at path, oldest first. A rotation
// between listing the files and opening them could make it open one file
// twice or miss one. So openLog holds a shared flock(2) of the directory,
// which RotatingFile takes exclusively to rotate, and, in case a writer
// rotates without it, checks that every name still names the file it
// opened, and starts again if not. A file that vanished is skipped.
func openLog(path string) (files []logFile, retErr error) {
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		// Without the lock (no directory, a file system without flock)
		// the check below still holds up unless rotations are constant.
		defer dir.Close()
		if unlock, ok := lockShared(dir); ok {
			defer unlock()
		}
	}
	for attempt := 1; ; attempt++ {
		names, err := Files(path)
		if err != nil {
			return nil, err
		}
		files = files[:0]
		for _, name := range names {
			f, err := os.Open(name)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err == nil {
				var info os.FileInfo
				if info, err = f.Stat(); err == nil {
					files = append(files, logFile{name: name, f: f, info: info})
					continue
				}
				f.Close()
			}
			for _, lf := range files {
				lf.f.Close()
			}
			return nil, fmt.Errorf("open log: %w", err)
		}
		if attempt == openAttempts || unchanged(path, names, files) {
			return dedupe(files), nil
		}
		for _, lf := range files {
			lf.f.Close()
		}
	}
}

// unchanged reports whether the log at path still has the files names and
// each opened file still has its name.
func unchanged(path string, names []string, files []logFile) bool {
	now, err := Files(path)
	if err != nil || !slices.Equal(now, names) || len(files) != len(names) {
		return false
	}
	for _, lf := range files {
		st, err := os.Stat(lf.name)
		if err != nil || !os.SameFile(st, lf.info) {
			return false
		}
	}
	return true
}

// dedupe closes and drops files opened twice under two names.
func dedupe(files []logFile) []logFile {
	out := files[:0]
	for _, lf := range files {
		if slices.ContainsFunc(out, func(o logFile) bool { return os.SameFile(o.info, lf.info) }) {
			lf.f.Close()
			continue
		}
		out = append(out, lf)
	}
	return out
}

// historyReader keeps the state of one ReadHistory.
type historyReader struct {
	filter  Filter
	lastSeq uint64
	arena   []byte // of the lines decoded (decodeEntryArena)
}

// decode decodes the record line found at off in files[i] and reports
// whether it could; if not, it reports the record as corrupt.
func (h *historyReader) decode(files []logFile, i int, off int64, line []byte, e *Entry) bool {
	var err error
	if h.filter.InPlace {
		err = DecodeEntryIn(unsafe.String(unsafe.SliceData(line), len(line)), e)
	} else {
		err = decodeEntryArena(line, e, &h.arena)
	}
	if err == nil {
		h.lastSeq = max(h.lastSeq, e.Seq)
		return true
	}
	if i == len(files)-1 && off+int64(len(line)) == files[i].info.Size() {
		err = fmt.Errorf("%w: %w", io.ErrUnexpectedEOF, err)
	}
	h.corrupt(files[i].name, off, err)
	return false
}

func (h *historyReader) corrupt(file string, off int64, err error) {
	if h.filter.OnCorrupt != nil {
		h.filter.OnCorrupt(&CorruptError{File: file, Offset: off, Err: err})
	}
}

// readForward reads files from start to end.
func readForward(files []logFile, f Filter, fn func(Entry) error) (uint64, error) {
	h := &historyReader{filter: f}
	var br *bufio.Reader
	for i, lf := range files {
		if f.AfterSeq != 0 && i < len(files)-1 {
			// Skip a file that ends at or before AfterSeq without
			// decoding it: Seq grows along the log.
			seq, ok, err := lastSeqOf(lf.f, lf.info.Size())
			if err != nil {
				return h.lastSeq, fmt.Errorf("read log %s: %w", lf.name, err)
			}
			if ok && seq <= f.AfterSeq {
				h.lastSeq = max(h.lastSeq, seq)
				continue
			}
		}
		var start int64
		if f.AfterSeq != 0 {
			start = seekAfter(lf.f, lf.info.Size(), f.AfterSeq)
		}
		sr := io.NewSectionReader(lf.f, start, lf.info.Size()-start)
		if br == nil {
			br = bufio.NewReaderSize(sr, maxRecord)
		} else {
			br.Reset(sr)
		}
		off := start
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				start := off
				for errors.Is(err, bufio.ErrBufferFull) {
					off += int64(len(line))
					line, err = br.ReadSlice('\n')
				}
				off += int64(len(line))
				h.corrupt(lf.name, start, ErrRecordTooLong)
				if err == nil {
					continue
				}
				line = nil
			}
			if n := len(line); n > 0 {
				rec := line
				if rec[n-1] == '\n' {
					rec = rec[:n-1]
				}
				var e Entry
				if len(rec) > 0 && h.decode(files, i, off, rec, &e) && f.Match(e) {
					if err := fn(e); err != nil {
						return h.lastSeq, err
					}
				}
				off += int64(n)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return h.lastSeq, fmt.Errorf("read log %s: %w", lf.name, err)
			}
		}
	}
	return h.lastSeq, nil
}

// seekAfter returns the offset of a record boundary in a log file of size
// bytes before which every record has a Seq of at most afterSeq, found by
// binary search (Seq grows along the log), so that a follower catching up
// on a large file does not decode it from its start. It returns 0 when the
// file's records are not in the canonical form it can read cheaply.
func seekAfter(r io.ReaderAt, size int64, afterSeq uint64) int64 {
	lo, hi := int64(0), size
	for hi-lo > 4096 {
		mid := lo + (hi-lo)/2
		start, seq, ok := recordAfter(r, mid, size)
		if !ok || start >= hi {
			break
		}
		if seq <= afterSeq {
			lo = start
		} else {
			hi = mid
		}
	}
	return lo
}

// recordAfter finds the first record that starts after offset off and
// returns its offset and Seq.
func recordAfter(r io.ReaderAt, off, size int64) (start int64, seq uint64, ok bool) {
	buf := make([]byte, 4096)
	for pos := off; pos < size; pos += int64(len(buf)) {
		n, err := r.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			start = pos + int64(i) + 1
			head := make([]byte, 32)
			m, _ := r.ReadAt(head, start)
			seq, ok = seqPrefix(head[:m])
			return start, seq, ok
		}
		if err != nil {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// seqPrefix reads the Seq of a canonical record from its first bytes.
func seqPrefix(b []byte) (uint64, bool) {
	if !bytes.HasPrefix(b, []byte(RecordPrefix)) {
		return 0, false
	}
	var seq uint64
	n := 0
	for _, c := range b[len(RecordPrefix):] {
		if c < '0' || c > '9' {
			break
		}
		seq = seq*10 + uint64(c-'0')
		n++
	}
	return seq, n > 0
}

// tailChunk is how much of a file a backward read reads at a time.
const tailChunk = 64 << 10

// readBackward reads files from end to start until it has tail matching
// entries, then calls fn for them in log order. With tail < 0 it stops at
// the first record it decodes.
func readBackward(files []logFile, f Filter, tail int, fn func(Entry) error) (uint64, error) {
	f.InPlace = false // the tail keeps entries while it reads
	h := &historyReader{filter: f}
	var got []Entry // newest first
	// done reports whether the read has all it needs after e.
	done := func(e Entry) bool {
		if tail < 0 {
			return true
		}
		if f.AfterSeq != 0 && e.Seq <= f.AfterSeq {
			return true // all before it are older still
		}
		if f.Match(e) {
			got = append(got, e)
		}
		return len(got) == tail
	}
scan:
	for i := len(files) - 1; i >= 0; i-- {
		bs := newBackScanner(files[i].f, files[i].info.Size(), tailChunk)
		for {
			line, off, err := bs.prev()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, ErrRecordTooLong) {
				h.corrupt(files[i].name, off, err)
				continue
			}
			if err != nil {
				return h.lastSeq, fmt.Errorf("read log %s: %w", files[i].name, err)
			}
			var e Entry
			if len(line) > 0 && h.decode(files, i, off, line, &e) && done(e) {
				break scan
			}
		}
	}
	for _, e := range slices.Backward(got) {
		if err := fn(e); err != nil {
			return h.lastSeq, err
		}
	}
	return h.lastSeq, nil
}

// lastSeqOf returns the Seq of the last record of the first size bytes of
// r that decodes; ok is false if none does.
func lastSeqOf(r io.ReaderAt, size int64) (seq uint64, ok bool, err error) {
	bs := newBackScanner(r, size, 4<<10)
	for {
		line, _, err := bs.prev()
		switch {
		case errors.Is(err, io.EOF):
			return 0, false, nil
		case errors.Is(err, ErrRecordTooLong):
			continue
		case err != nil:
			return 0, false, err
		}
		var e Entry
		if len(line) > 0 && decodeEntry(line, &e) == nil {
			return e.Seq, true, nil
		}
	}
}

// backScanner returns the lines of a file from the last to the first,
// reading it backwards a chunk at a time, so that the end of a large file
// costs no more to read than the end of a small one.
type backScanner struct {
	r     io.ReaderAt
	pos   int64  // file offset of buf[0]
	buf   []byte // the bytes from pos on that prev has not returned
	mem   []byte // the buffer buf is in
	spare []byte // another buffer, free
	chunk int64
	long  bool // buf holds the end of a line longer than maxRecord
	done  bool // the first line has been returned
}

// newBackScanner returns a backScanner for the first size bytes of r that
// reads chunk bytes at a time, more when a line is longer.
func newBackScanner(r io.ReaderAt, size, chunk int64) *backScanner {
	return &backScanner{r: r, pos: size, chunk: chunk}
}

// prev returns the line before the ones it returned so far, without its
// newline, and the offset where it starts. After a final newline it returns
// an empty line first. The line is valid until the next call. At the start
// of the file it returns io.EOF; for a line longer than maxRecord it
// returns ErrRecordTooLong and goes on with the line before it.
func (s *backScanner) prev() (line []byte, off int64, err error) {
	for {
		if i := bytes.LastIndexByte(s.buf, '\n'); i >= 0 {
			line, off = s.buf[i+1:], s.pos+int64(i)+1
			s.buf = s.buf[:i]
			return s.result(line, off)
		}
		if s.pos == 0 {
			if s.done {
				return nil, 0, io.EOF
			}
			s.done = true
			line, s.buf = s.buf, nil
			return s.result(line, 0)
		}
		if len(s.buf) > maxRecord {
			// Keep no more of a line too long to be a record than it
			// takes to know that it is one.
			s.long, s.buf = true, s.buf[:0]
		}
		// Read the chunk before buf into the spare buffer, followed by
		// buf, then swap buffers: the lines returned so far are done with.
		n := min(s.chunk, s.pos)
		nb := s.spare
		if need := n + int64(len(s.buf)); int64(cap(nb)) < need {
			nb = make([]byte, need)
		} else {
			nb = nb[:need]
		}
		k, err := s.r.ReadAt(nb[:n], s.pos-n)
		switch {
		case int64(k) == n:
			copy(nb[n:], s.buf)
		case err == nil || errors.Is(err, io.EOF):
			// The file shrank under us: a writer cut off a failed
			// write. What was beyond is gone.
			nb = nb[:k]
		default:
			return nil, 0, err
		}
		s.pos -= n
		s.spare, s.mem = s.mem, nb
		s.buf = nb
	}
}

func (s *backScanner) result(line []byte, off int64) ([]byte, int64, error) {
	if s.long || len(line) >= maxRecord {
		s.long = false
		return nil, off, ErrRecordTooLong
	}
	return line, off, nil
}
