package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/docker/go-units"

	"github.com/plugdbg/plugdbg/errkind"
)

// Bounds of the JSON request bodies, by endpoint. The daemon decodes a body
// into memory before it can judge it, and what it keeps of some (settings)
// rides in every ls, inspect and event afterwards, so each body is refused
// with 413 once it passes what its endpoint can sensibly hold. The endpoints
// without a JSON body never read theirs, and the build context of
// POST /plugins/create is streamed to disk under the bounds of
// archive.DefaultContextLimits instead.
const (
	// maxSetBody: a few KEY=VALUE strings. Room for one value at
	// config.MaxSettingValue, JSON-escaped, with the rest of the arguments
	// beside it.
	maxSetBody = 64 << 10
	// maxLogOptsBody: a handful of log options (max-size, max-file), each a
	// few bytes.
	maxLogOptsBody = 4 << 10
	// maxExecBody: a command line and environment. Linux takes at most
	// 2 MiB of argv and environment together on a default stack, but a
	// debugging command is a shell line; a quarter MiB leaves room for
	// long scripts passed with sh -c.
	maxExecBody = 256 << 10
	// maxPrivilegesBody: the privileges a pull or upgrade accepts are
	// derived from the plugin's config.json, which is itself bounded at
	// 1 MiB (archive.maxConfigSize), so they can never legitimately be
	// larger than that.
	maxPrivilegesBody = 1 << 20
)

// Routes as the 413 answers name them.
const (
	routeSet     = "POST /plugins/{name}/set"
	routeLogOpts = "POST /plugins/{name}/log-opts"
	routeExec    = "POST /plugins/{name}/exec"
	routePull    = "POST /plugins/pull"
	routeUpgrade = "POST /plugins/{name}/upgrade"
)

// bodyTooLargeError is a request body over its endpoint's bound.
type bodyTooLargeError struct {
	route string
	limit int64
}

func (e bodyTooLargeError) Error() string {
	return fmt.Sprintf("request body over the %s limit of %s", units.BytesSize(float64(e.limit)), e.route)
}

// ResourceExhausted gives the error errdefs' kind of an input over its
// bound (errkind.TooLarge), which writeErr answers with 413.
func (bodyTooLargeError) ResourceExhausted() {}

// errBodyEmpty is decodeBody's error for a body without any JSON value.
var errBodyEmpty = errors.New("the body is empty")

// decodeBody decodes r's body into v: exactly one JSON value of at most
// limit bytes, then nothing but white space. A body over the limit is a
// bodyTooLargeError, read no further than the limit (the server then closes
// the connection rather than draining the rest); an empty one is
// errBodyEmpty; anything else wrong is an error describing it.
func decodeBody(w http.ResponseWriter, r *http.Request, route string, limit int64, v any) error {
	if r.ContentLength > limit {
		return bodyTooLargeError{route: route, limit: limit}
	}
	tooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		return errors.As(err, &mbe)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		switch {
		case tooLarge(err):
			return bodyTooLargeError{route: route, limit: limit}
		case errors.Is(err, io.EOF):
			return errBodyEmpty
		}
		return err
	}
	// A second value, or any byte that is not white space, would be
	// ignored by a lone Decode: refuse it, as a truncated body would be.
	var rest json.RawMessage
	switch err := dec.Decode(&rest); {
	case errors.Is(err, io.EOF):
		return nil
	case tooLarge(err):
		return bodyTooLargeError{route: route, limit: limit}
	case err == nil:
		return errors.New("trailing data after the JSON value")
	default:
		return fmt.Errorf("trailing data after the JSON value: %w", err)
	}
}

// readJSON is decodeBody for a body that must hold want. It answers the
// request itself when the body is refused (413 over the limit, 400
// otherwise) and then reports false.
func readJSON(w http.ResponseWriter, r *http.Request, route string, limit int64, want string, v any) bool {
	err := decodeBody(w, r, route, limit, v)
	if err == nil {
		return true
	}
	writeBodyError(w, err, "invalid body: want "+want)
	return false
}

// writeBodyError answers a body decodeBody refused: 413 over the limit,
// else 400 with the error after invalid.
func writeBodyError(w http.ResponseWriter, err error, invalid string) {
	var tl bodyTooLargeError
	if errors.As(err, &tl) {
		writeErr(w, err)
		return
	}
	writeErr(w, errkind.Invalid(fmt.Errorf("%s: %w", invalid, err)))
}
