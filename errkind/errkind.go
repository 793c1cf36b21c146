// Package errkind gives errors the kinds of github.com/containerd/errdefs
// (the ecosystem's kinds, which moby and containerd use) and maps those
// kinds to HTTP statuses and back: the one table the daemon's API answers
// with and its client reads a daemon error's kind from.
//
// A kind is tested with errdefs' own predicates (errdefs.IsNotFound, …),
// which see both an error wrapped here and an error type that has the
// kind's method (NotFound(), Conflict(), InvalidParameter(), …). Wrapping
// keeps the error's message and chain: errors.Is and errors.As still reach
// everything the error wrapped. The package is pure Go, for the client.
package errkind

import (
	"net/http"

	"github.com/containerd/errdefs"
)

// kinded is an error given a kind: its message and chain are err's, and
// kind is one more branch of the chain for errors.Is and errdefs.
// A pointer, so that errors.Is never compares two errors by value (a
// value whose dynamic type cannot be compared would panic).
type kinded struct {
	err  error
	kind error
}

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.err, e.kind} }

func with(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kinded{err: err, kind: kind}
}

// NotFound gives err the kind errdefs.ErrNotFound: no such object.
// A nil err stays nil, as for every wrapper of this package.
func NotFound(err error) error { return with(errdefs.ErrNotFound, err) }

// Conflict gives err the kind errdefs.ErrConflict: the object's state
// forbids the operation (a plugin enabled, disabled, stopping, not running).
func Conflict(err error) error { return with(errdefs.ErrConflict, err) }

// Invalid gives err the kind errdefs.ErrInvalidArgument: the request itself
// is wrong.
func Invalid(err error) error { return with(errdefs.ErrInvalidArgument, err) }

// Unauthenticated gives err the kind errdefs.ErrUnauthenticated: a
// registry refused the credentials, or wants some.
func Unauthenticated(err error) error { return with(errdefs.ErrUnauthenticated, err) }

// TooLarge gives err the kind errdefs.ErrResourceExhausted: an input over
// its size bound (as gRPC says RESOURCE_EXHAUSTED for a message over its
// limit). An error type can carry the kind with a ResourceExhausted() method.
func TooLarge(err error) error { return with(errdefs.ErrResourceExhausted, err) }

// NotImplemented gives err the kind errdefs.ErrNotImplemented: this daemon
// cannot serve the request at all (no dockerd to talk to).
func NotImplemented(err error) error { return with(errdefs.ErrNotImplemented, err) }

// Unavailable gives err the kind errdefs.ErrUnavailable: a service the
// daemon relays to (dockerd) failed to answer as asked. An error type can
// carry the kind with an Unavailable() method.
func Unavailable(err error) error { return with(errdefs.ErrUnavailable, err) }

// ErrDeadlineExceeded is the kind of a daemon answer 408: the operation ran
// out of its time. errdefs has a predicate for the kind but no value; this
// one is not context.DeadlineExceeded, so that a client's own context and a
// daemon's answer stay apart.
var ErrDeadlineExceeded error = deadlineExceeded{}

type deadlineExceeded struct{}

func (deadlineExceeded) Error() string     { return "deadline exceeded" }
func (deadlineExceeded) DeadlineExceeded() {}

// statuses is the one table of kinds and HTTP statuses, in the order an
// error is classified: the first kind an error has gives its status. The
// statuses are the API's since its first version, so a few differ from
// errdefs/pkg/errhttp's: 413 for ResourceExhausted (not 429), 502 for
// Unavailable (the relayed service failed, not 503), and 408 for
// DeadlineExceeded (errhttp has none).
var statuses = []struct {
	kind   error
	is     func(error) bool
	status int
}{
	{errdefs.ErrNotFound, errdefs.IsNotFound, http.StatusNotFound},
	// Before InvalidArgument: an input over its bound is both (a build
	// context over its limits is also an invalid plugin).
	{errdefs.ErrResourceExhausted, errdefs.IsResourceExhausted, http.StatusRequestEntityTooLarge},
	{errdefs.ErrConflict, errdefs.IsConflict, http.StatusConflict},
	{errdefs.ErrInvalidArgument, errdefs.IsInvalidArgument, http.StatusBadRequest},
	{errdefs.ErrUnauthenticated, errdefs.IsUnauthorized, http.StatusUnauthorized},
	{errdefs.ErrUnavailable, errdefs.IsUnavailable, http.StatusBadGateway},
	// errdefs.IsDeadlineExceeded also sees context.DeadlineExceeded.
	{ErrDeadlineExceeded, errdefs.IsDeadlineExceeded, http.StatusRequestTimeout},
	{errdefs.ErrNotImplemented, errdefs.IsNotImplemented, http.StatusNotImplemented},
	{errdefs.ErrInternal, errdefs.IsInternal, http.StatusInternalServerError},
}

// HTTPStatus is the status the daemon answers err with: its kind's, or 500
// for an error of no kind in the table.
func HTTPStatus(err error) int {
	for _, s := range statuses {
		if s.is(err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// FromHTTPStatus is the kind of a daemon answer with status, for errdefs'
// predicates and errors.Is, or nil for a status no kind has.
func FromHTTPStatus(status int) error {
	for _, s := range statuses {
		if s.status == status {
			return s.kind
		}
	}
	return nil
}
