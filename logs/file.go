package logs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// maxRecord bounds one JSON line of a log file: a 64 KiB line, base64
// encoded, plus the other fields.
const maxRecord = 256 << 10

// Scan calls fn for each entry of a log file read from r, in file order,
// until fn returns an error or the input ends.
func Scan(r io.Reader, fn func(Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxRecord)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("log record %d: %w", n, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}
