package logs

import (
	"strings"
	"unicode/utf8"
)

// Escape returns line made safe to print on a terminal. Logs keep a plugin's
// bytes exactly; Escape is for showing them (plugdbg logs, the web UI).
//
// Docker prints a container's bytes raw. Raw bytes let a plugin's output
// drive the user's terminal: ESC sequences recolour it, move the cursor,
// retitle the window or rewrite the screen, and a carriage return hides
// what came before it on the line. So Escape spells out, as Go's %q and
// therefore the daemon's logrus log do:
//
//   - each byte that is not part of valid UTF-8 as \xNN;
//   - C0 control characters other than tab as \a \b \f \n \r \v, or \xNN
//     for the others (ESC is \x1b), and DEL as \x7f;
//   - C1 control characters U+0080–U+009F, which some terminals obey as
//     ESC sequences (U+009B is CSI), as \u0080–\u009f.
//
// Everything else, tabs and backslashes included, is left alone, so a
// line of ordinary text prints as the plugin wrote it; that a line may
// itself contain the text \x1b is the price of that. Escape returns line
// itself, without allocating, when there is nothing to escape.
func Escape(line string) string {
	i := firstUnsafe(line)
	if i == len(line) {
		return line
	}
	var b strings.Builder
	b.Grow(len(line) + 16)
	b.WriteString(line[:i])
	for i < len(line) {
		c := line[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f || c == '\t' {
				b.WriteByte(c)
			} else {
				writeControl(&b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeHexByte(&b, `\x`, c)
		case r < 0xa0:
			writeHexByte(&b, `\u00`, byte(r))
		default:
			b.WriteString(line[i : i+size])
		}
		i += size
	}
	return b.String()
}

// AppendEscape appends Escape(line) to dst: without a copy of line in
// between when there is nothing to escape, as for most lines.
func AppendEscape(dst []byte, line string) []byte {
	if firstUnsafe(line) == len(line) {
		return append(dst, line...)
	}
	return append(dst, Escape(line)...)
}

// firstUnsafe returns the index of the first byte of line that Escape
// changes, or len(line).
func firstUnsafe(line string) int {
	for i := 0; i < len(line); {
		if i = skipEscapeSafe(line, i); i == len(line) {
			break
		}
		c := line[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		if r == utf8.RuneError && size == 1 || r < 0xa0 {
			return i
		}
		i += size
	}
	return len(line)
}

func writeControl(b *strings.Builder, c byte) {
	switch c {
	case '\a':
		b.WriteString(`\a`)
	case '\b':
		b.WriteString(`\b`)
	case '\f':
		b.WriteString(`\f`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\v':
		b.WriteString(`\v`)
	default:
		writeHexByte(b, `\x`, c)
	}
}

func writeHexByte(b *strings.Builder, prefix string, c byte) {
	b.WriteString(prefix)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}
