package logs

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The codecs' hot loops look at a line's bytes eight at a time: the
// monitor encodes every line a plugin writes, the daemon decodes and
// formats every one. Each test below says, for the eight bytes of a
// little-endian word, whether any is of a kind; the skip functions find
// the first such byte, and the loops take it and what follows one by one.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// below marks (in the high bit of its byte) the bytes of x less than n
// (n ≤ 0x80). As with equal, only the lowest mark is sure to be right.
func below(x uint64, n byte) uint64 { return (x - lsb*uint64(n)) & ^x & msb }

// equal marks the bytes of x equal to c. A byte may be marked wrongly,
// but only above one marked rightly: the lowest mark is always right.
func equal(x uint64, c byte) uint64 {
	v := x ^ lsb*uint64(c)
	return (v - lsb) & ^v & msb
}

// jsonMask marks bytes appendJSONString does not copy as they are: control
// characters, '"', '\\', '<', '>', '&', and bytes of multi-byte runes.
func jsonMask(x uint64) uint64 {
	return below(x, 0x20) | x&msb | equal(x, '"') | equal(x, '\\') | equal(x, '<') | equal(x, '>') | equal(x, '&')
}

// quoteMask marks bytes appendTextValue does not copy into its quotes as
// they are: control characters, '"', '\\', DEL and bytes of multi-byte
// runes.
func quoteMask(x uint64) uint64 {
	return below(x, 0x20) | x&msb | equal(x, '"') | equal(x, '\\') | equal(x, 0x7f)
}

// escapeMask marks bytes firstUnsafe looks at one by one: control
// characters (tab among them, which it then passes), DEL and bytes of
// multi-byte runes.
func escapeMask(x uint64) uint64 {
	return below(x, 0x20) | x&msb | equal(x, 0x7f)
}

// strMask marks bytes that end canonParser.str's fast scan: '"', '\\' and
// control characters.
func strMask(x uint64) uint64 {
	return below(x, 0x20) | equal(x, '"') | equal(x, '\\')
}

// word returns the eight bytes of s from i on as a little-endian word.
func word(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}

// The skip functions return the index of the first byte of s, from i on,
// that their mask marks, or where fewer than eight bytes are left: the
// bytes before it are all unmarked, and the caller goes on byte by byte.
// The lowest byte a mask marks is always one of its kind, so the index is
// exact.

func skipJSONSafe(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := jsonMask(word(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i
}

func skipQuoteSafe(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := quoteMask(word(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i
}

func skipStrSafe(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := strMask(word(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i
}

func skipEscapeSafe(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := escapeMask(word(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i
}
