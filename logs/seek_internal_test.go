package logs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSeekAfter(t *testing.T) {
	var buf []byte
	var offsets []int64
	for i := uint64(1); i <= 5000; i++ {
		offsets = append(offsets, int64(len(buf)))
		line := strings.Repeat("x", int(i%300))
		buf = append(Entry{Seq: i, Time: 1, Stream: Stdout, Line: line}.AppendJSON(buf), '\n')
	}
	r := bytes.NewReader(buf)
	for _, after := range []uint64{1, 2, 100, 2500, 4999, 5000, 6000} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			off := seekAfter(r, int64(len(buf)), after)
			// A record boundary, at or before the first record after `after`.
			if after < 5000 {
				assert.LessOrEqual(t, off, offsets[after])
			}
			assert.True(t, off == 0 || buf[off-1] == '\n', "offset %d is not a record boundary", off)
			seq, ok := seqPrefix(buf[off:])
			assert.True(t, ok)
			assert.LessOrEqual(t, seq, max(after, 1))
			// And it skipped most of the file.
			if after >= 2500 && after <= 5000 {
				assert.Greater(t, off, offsets[after-100])
			}
		})
	}
	assert.Equal(t, int64(0), seekAfter(bytes.NewReader([]byte("not a log\nat all\n")), 17, 5))
}
