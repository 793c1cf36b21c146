package tracer

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// maxBody bounds how much of each body a record keeps, and how much of an
// answer is kept to look for its Err; the calls themselves are forwarded
// whole.
const maxBody = 64 << 10

// body is what a record keeps of a request's or an answer's body (its
// chunked coding taken off): its first maxBody bytes, and how many more
// there were.
type body struct {
	b    []byte
	more int64
}

func (bd *body) add(b []byte) {
	if room := maxBody - len(bd.b); len(b) > room {
		bd.more += int64(len(b) - room)
		b = b[:room]
	}
	bd.b = append(bd.b, b...)
}

// String is the body as a record shows it: cut after maxBody bytes with
// the count of the rest.
func (bd *body) String() string {
	if bd.more > 0 {
		return string(bd.b) + fmt.Sprintf("…(%d more bytes)", bd.more)
	}
	return string(bd.b)
}

// errField is the Err of a whole body, "" for one cut short.
func (bd *body) errField() string {
	if bd.more > 0 || !mayHaveErr(bd.b) {
		return ""
	}
	return ErrField(bd.b)
}

// ErrField returns a JSON answer's non-empty Err, or Error (IPAM's key).
func ErrField(body []byte) string {
	var e struct{ Err, Error string }
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Err != "" {
		return e.Err
	}
	return e.Error
}

// hasErr reports whether a JSON answer has a non-empty Err (or Error, as
// IPAM answers have), as ErrField reads it. Most answers carry
// "Err": "": a scan without allocation settles those, and decoding is
// left for the answers that may have one.
func hasErr(body []byte) bool {
	return mayHaveErr(body) && ErrField(body) != ""
}

// mayHaveErr reports whether body, a JSON object, may have a top-level
// "Err" or "Error" (in any case, as encoding/json matches names) with a
// non-empty string value. It errs towards yes: a key with an escape, or
// input it cannot follow.
func mayHaveErr(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return true
		}
		if b[i] == '}' {
			return false
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return true
		}
		end, escaped := stringEnd(b, i)
		if end < 0 {
			return true
		}
		key := b[i+1 : end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return true
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return true
		}
		if escaped || bytes.EqualFold(key, []byte("Err")) || bytes.EqualFold(key, []byte("Error")) {
			if b[i] == '"' && i+1 < len(b) && b[i+1] != '"' {
				return true
			}
		}
		if i = skipValue(b, i); i < 0 {
			return true
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that ends the string starting
// at b[i] (-1: none), and whether the string has escapes.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the JSON value at b[i], -1 if it
// cannot tell.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end, _ := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			i = end + 1
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}') {
			return i
		}
	}
	return -1
}
