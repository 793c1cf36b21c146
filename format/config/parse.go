// Package config parses, validates and edits managed-plugin configurations in Docker's format.
//
// The types are those of github.com/moby/moby/api/types/plugin; this package
// only adds the rules Docker applies to them (and some it should apply but
// does not, see Validate). Functions are pure unless their doc says they touch
// the file system, and none of them keeps state, so they are safe for
// concurrent use as long as callers do not share the values they pass in.
package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/moby/moby/api/types/plugin"
	"github.com/plugdbg/plugdbg/errkind"
)

// ErrInvalidConfigJSON is Docker's error for a config blob that holds more
// than one JSON value (manager_linux.go: setupNewPlugin). Parse wraps it.
// Its kind is Invalid.
var ErrInvalidConfigJSON = errkind.Invalid(errors.New("invalid config json"))

// Parse decodes a plugin config.json. source names the file in errors (for
// example "/path/config.json"); it defaults to "config.json".
//
// Keys match case-insensitively and unknown keys are ignored, as in Docker
// (encoding/json semantics). Unlike Docker, anything but white space after the
// first JSON value is rejected (Docker's dec.More check lets a stray "]" or "}"
// through). Parse does not check semantics; call Validate for that.
func Parse(data []byte, source string) (plugin.Config, error) {
	if source == "" {
		source = "config.json"
	}
	var c plugin.Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return plugin.Config{}, decodeError(data, source, err)
	}
	off := dec.InputOffset()
	rest := data[off:]
	if trimmed := bytes.TrimLeft(rest, " \t\r\n"); len(trimmed) > 0 {
		at := off + int64(len(rest)-len(trimmed))
		line, col := lineCol(data, at)
		return plugin.Config{}, fmt.Errorf("%s: line %d, column %d (offset %d): %w: unexpected data after the JSON object",
			source, line, col, at, ErrInvalidConfigJSON)
	}
	return c, nil
}

// decodeError turns an encoding/json error into one that names the file and,
// where json gives one, the position.
func decodeError(data []byte, source string, err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: empty file, want a JSON object", source)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: file is truncated (unexpected end of JSON input after %d bytes)", source, len(data))
	case errors.As(err, &syntaxErr):
		if syntaxErr.Offset >= int64(len(data)) && syntaxErr.Error() == "unexpected end of JSON input" {
			return fmt.Errorf("%s: file is truncated (unexpected end of JSON input after %d bytes)", source, len(data))
		}
		// Offset counts the bytes read, including the offending one.
		at := max(syntaxErr.Offset-1, 0)
		line, col := lineCol(data, at)
		return fmt.Errorf("%s: line %d, column %d (offset %d): %w", source, line, col, at, err)
	case errors.As(err, &typeErr):
		what := "top level"
		if typeErr.Field != "" {
			what = fmt.Sprintf("field %q", typeErr.Field)
		}
		msg := fmt.Sprintf("%s: %s: cannot use %s, want %s", source, what, typeErr.Value, describeType(typeErr.Type))
		if typeErr.Offset > 0 {
			// Offset is just past a scalar, or just past the "[" or "{" of
			// a composite value; one byte back is inside the value.
			line, col := lineCol(data, typeErr.Offset-1)
			msg = fmt.Sprintf("%s (line %d, column %d)", msg, line, col)
		}
		return errors.New(msg)
	default:
		return fmt.Errorf("%s: %w", source, err)
	}
}

// lineCol returns the 1-based line and column of byte offset off in data.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// describeType says in JSON terms what a Go type accepts.
func describeType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) || t.Implements(textUnmarshaler) {
		return "string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem()) + " or null"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("unsigned integer (%d-bit)", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array of " + plural(describeType(t.Elem()))
	default:
		return t.String()
	}
}

func plural(s string) string {
	switch s {
	case "string", "boolean", "integer", "number", "object":
		return s + "s"
	default:
		return s
	}
}
