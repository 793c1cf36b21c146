package logs

import (
	"bufio"
	"fmt"
	"io"
)

// maxRecord bounds one JSON line of a log file, its newline included. The
// monitor cuts lines at 64 KiB; JSON escaping makes a byte at most 6 bytes
// long (a control character as \u00XX; base64 takes only 4/3), and the
// other fields take well under 4 KiB.
const maxRecord = 6*(64<<10) + 4<<10

// Scan calls fn for each entry of a log file read from r, in file order,
// until fn returns an error or the input ends.
func Scan(r io.Reader, fn func(Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxRecord)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := decodeEntry(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("log record %d: %w", n, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}
