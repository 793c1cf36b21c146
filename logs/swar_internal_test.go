package logs

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// swarKinds are the skip functions and, byte by byte, what they skip.
var swarKinds = []struct {
	name string
	skip func(string, int) int
	safe func(byte) bool
}{
	{"json", skipJSONSafe, func(c byte) bool { return c < 0x80 && jsonSafe[c] }},
	{"quote", skipQuoteSafe, func(c byte) bool { return quoteClass[c] == quotePlain }},
	{"str", skipStrSafe, func(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }},
	{"escape", skipEscapeSafe, func(c byte) bool { return c >= 0x20 && c < 0x7f }},
}

// refSkip is what a skip function returns, found byte by byte.
func refSkip(s string, i int, safe func(byte) bool) int {
	for j := i; j+8 <= len(s); j += 8 {
		for k := j; k < j+8; k++ {
			if !safe(s[k]) {
				return k
			}
		}
	}
	return i + (len(s)-i)/8*8
}

// TestSkipMatchesBytes: the word-at-a-time scans stop at the first byte
// of their kind, for every byte value at every place in a word, after
// every other byte value (a borrow from a lower byte must not mislead
// them), and in random strings.
func TestSkipMatchesBytes(t *testing.T) {
	for _, k := range swarKinds {
		t.Run(k.name, func(t *testing.T) {
			for lo := range 256 {
				for c := range 256 {
					for p := range 8 {
						b := []byte("aaaaaaaaaaaaaaaa")
						b[p] = byte(c)
						if p > 0 {
							b[p-1] = byte(lo)
						}
						s := string(b)
						require.Equal(t, refSkip(s, 0, k.safe), k.skip(s, 0), "%q", s)
					}
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			alphabet := []byte("ab \"\\<>&\x00\x1f\x20\x7f\x80\xff=")
			for range 100000 {
				b := make([]byte, r.IntN(40))
				for i := range b {
					b[i] = alphabet[r.IntN(len(alphabet))]
				}
				s, i := string(b), r.IntN(len(b)+1)
				require.Equal(t, refSkip(s, i, k.safe), k.skip(s, i), "%q from %d", s, i)
			}
		})
	}
}
