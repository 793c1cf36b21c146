package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Rotation defaults, as dockerd's json-file --log-opt max-size and max-file
// would be set for a plugin: 10 MiB per file, 5 files in all.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 5
)

// ErrRotate marks an error of RotatingFile.Write whose records were stored
// but whose rotation failed: the current file grows past its maximum size
// until a later Write rotates it. Test for it with errors.Is.
var ErrRotate = errors.New("rotate log")

// ErrReserve marks a Write refused because the log's filesystem has no
// more free space than the reserve set with SetReserve: that space is kept
// for the daemon's state. Test for it with errors.Is.
var ErrReserve = errors.New("the filesystem's free space is down to the reserve kept for state")

// errRotateBusy postpones a rotation while readers hold the directory lock.
var errRotateBusy = errors.New("log directory locked by a reader")

// RotatingFile appends batches of records to a log file and rotates it by
// size: path.1 is the newest rotated file, path.N the oldest.
//
// One RotatingFile, in one process, may write a log at a time; its methods
// are safe for concurrent use. Readers may read the files at any time:
// rotation only renames files and unlinks the oldest, so a reader that
// holds a file open keeps reading it. Rotation takes an exclusive flock(2)
// of the log's directory, without waiting: while ReadHistory holds it
// shared to open the files, rotation waits for the next Write.
type RotatingFile struct {
	path string
	dir  *os.File // the log's directory, locked while rotating; nil if it cannot be opened

	mu       sync.Mutex
	maxSize  int64
	maxFiles int
	reserve  int64 // free bytes of the filesystem that writes leave alone
	f        *os.File
	size     int64 // bytes in f
	fragment bool  // f ends in part of a record that a failed write left
}

// OpenRotating opens, or creates with mode 0640, the log file at path for
// appending. The directory must exist.
//
// A write that would take the file past maxSize bytes first rotates it.
// maxFiles counts the files kept, the current one included, so maxFiles-1
// rotated files are kept; with maxFiles <= 1 the file is still cut at
// maxSize but no rotated file is kept. maxSize <= 0 turns rotation off.
//
// If the file does not end with a newline (a writer died in the middle of
// a record), OpenRotating ends it with one, so that the fragment stays a
// line of its own that readers skip, rather than spoiling the next record.
func OpenRotating(path string, maxSize int64, maxFiles int) (_ *RotatingFile, retErr error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f, size: st.Size()}
	if r.size > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], r.size-1); err != nil {
			return nil, fmt.Errorf("open log: read last byte: %w", err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return nil, fmt.Errorf("open log: end last record: %w", err)
			}
			r.size++
		}
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		r.dir = dir
	}
	return r, nil
}

// SetLimits changes the rotation limits (as OpenRotating takes them) from
// the next Write on; files beyond a lower maxFiles go at the next rotation.
func (r *RotatingFile) SetLimits(maxSize int64, maxFiles int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxSize, r.maxFiles = maxSize, maxFiles
}

// SetReserve makes every later Write leave at least bytes free on the
// log's filesystem (0: none): a batch that would eat into them is not
// written and Write fails with ErrReserve. Logs must never take the space
// that state writes on the same filesystem need.
func (r *RotatingFile) SetReserve(bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserve = bytes
}

// freeBytes is what root may still write on the log's filesystem.
func (r *RotatingFile) freeBytes() (int64, error) {
	return freeBytes(r.f)
}

// Path returns the path of the current log file.
func (r *RotatingFile) Path() string { return r.path }

// Write appends records, a batch of whole newline-terminated records, in
// one write. It rotates first when the batch would take a non-empty file
// past the maximum size, so a batch is never split between files; a batch
// larger than the maximum size goes whole into a fresh file.
//
// If rotation fails, Write still appends to the current file and returns
// the number of bytes written with an error that wraps ErrRotate. If the
// write itself fails (a full disk), the file is cut back to its last whole
// record where possible, and n counts only bytes that stayed; the error
// wraps ErrRotate too if rotation failed as well. The caller should count
// such errors: Write never blocks or retries.
func (r *RotatingFile) Write(records []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fmt.Errorf("write log %s: %w", r.path, os.ErrClosed)
	}
	if len(records) == 0 {
		return 0, nil
	}
	var rotErr error
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(records)) > r.maxSize {
		rotErr = r.rotate()
		if errors.Is(rotErr, errRotateBusy) {
			rotErr = nil // a reader is opening the files: rotate next time
		}
	}
	if r.reserve > 0 {
		// Asked per batch, not estimated: other writers share the
		// filesystem, and a statfs costs far less than the write.
		free, err := r.freeBytes()
		if err == nil && free-int64(len(records)) < r.reserve {
			if rotErr != nil {
				return 0, fmt.Errorf("write log: %w (and %w: %w)", ErrReserve, ErrRotate, rotErr)
			}
			return 0, fmt.Errorf("write log: %d bytes free, %d reserved: %w", free, r.reserve, ErrReserve)
		}
	}
	if r.fragment {
		// An earlier short write left part of a record that could not be
		// cut off: end it, or this batch's first record would be lost too.
		if _, err := r.f.Write([]byte{'\n'}); err == nil {
			r.size++
			r.fragment = false
		}
	}
	n, err := r.f.Write(records)
	if err != nil {
		if n > 0 {
			if r.f.Truncate(r.size) == nil {
				n = 0
			} else {
				r.fragment = true
			}
		}
		r.size += int64(n)
		if rotErr != nil {
			return n, fmt.Errorf("write log: %w (and %w: %w)", err, ErrRotate, rotErr)
		}
		return n, fmt.Errorf("write log: %w", err)
	}
	r.size += int64(n)
	if rotErr != nil {
		return n, fmt.Errorf("%w: %w", ErrRotate, rotErr)
	}
	return n, nil
}

// rotate moves the current file to path.1, shifting older rotated files up
// and dropping those beyond maxFiles-1, and makes a fresh current file. On
// error the current file stays open and in use.
//
// Retrying after a partial failure is safe: files shift only up to the
// first free number, so a retry never drops more than one file.
func (r *RotatingFile) rotate() error {
	if r.dir != nil {
		// Readers list and open the files under a shared lock of the
		// directory, so that they never see half a rotation. Never wait
		// for them: the plugin must not wait for a reader.
		unlock, busy := tryLockExclusive(r.dir)
		if busy {
			return errRotateBusy
		}
		if unlock != nil {
			defer unlock()
		}
	}
	keep := r.maxFiles - 1
	fresh := r.path + ".new"
	nf, err := os.OpenFile(fresh, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create new log file: %w", err)
	}
	if err := r.shift(keep); err != nil {
		nf.Close()
		os.Remove(fresh)
		return err
	}
	if err := os.Rename(fresh, r.path); err != nil {
		nf.Close()
		os.Remove(fresh)
		return err
	}
	r.f.Close()
	r.f, r.size, r.fragment = nf, 0, false
	return nil
}

// shift renames the current file to path.1 after making room for it, with
// keep rotated files at most. With keep <= 0 it does nothing: renaming the
// fresh file over the current one unlinks it.
func (r *RotatingFile) shift(keep int) error {
	ks, _, err := listLog(r.path)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k > max(keep, 0) {
			if err := os.Remove(rotatedName(r.path, k)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if keep <= 0 {
		return nil
	}
	free := 1
	for free <= keep && exists(rotatedName(r.path, free)) {
		free++
	}
	if free > keep {
		free = keep
		if err := os.Remove(rotatedName(r.path, keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for k := free - 1; k >= 1; k-- {
		if err := os.Rename(rotatedName(r.path, k), rotatedName(r.path, k+1)); err != nil {
			return err
		}
	}
	if err := os.Rename(r.path, rotatedName(r.path, 1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Close closes the current file. Further writes fail with os.ErrClosed.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if r.dir != nil {
		r.dir.Close()
		r.dir = nil
	}
	return err
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

func rotatedName(path string, k int) string {
	return path + "." + strconv.Itoa(k)
}

// LastSeq returns the Seq of the last whole record of the log at path: in
// the current file, or, when it is missing, empty or holds no whole record,
// in the newest rotated file that does. It returns 0 when there is no log.
// A record cut short at the end of a file (a writer that crashed in the
// middle of a write) is passed over. LastSeq reads only the end of files.
//
// A monitor numbers the entries of a new run from LastSeq+1.
func LastSeq(path string) (uint64, error) {
	files, err := Files(path)
	if err != nil {
		return 0, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		seq, ok, err := lastSeqOfFile(files[i])
		if err != nil {
			return 0, err
		}
		if ok {
			return seq, nil
		}
	}
	return 0, nil
}

// lastSeqOfFile returns the Seq of the last whole record of the named file;
// ok is false if it has none or no longer exists.
func lastSeqOfFile(name string) (seq uint64, ok bool, err error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read last log record: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("read last log record: %w", err)
	}
	seq, ok, err = lastSeqOf(f, st.Size())
	if err != nil {
		return 0, false, fmt.Errorf("read last log record of %s: %w", name, err)
	}
	return seq, ok, nil
}
