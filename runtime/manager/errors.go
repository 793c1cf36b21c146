package manager

import (
	"errors"
	"fmt"
)

// ErrStopping is an operation refused because a stop of the plugin has
// begun.
var ErrStopping = errors.New("plugin is stopping")

// Error kinds are methods, so that the API maps them to HTTP status codes in
// one place without importing this package's concrete types.

type notFoundError struct{ error }

func (notFoundError) NotFound()       {}
func (e notFoundError) Unwrap() error { return e.error }

type conflictError struct{ error }

func (conflictError) Conflict()       {}
func (e conflictError) Unwrap() error { return e.error }

type invalidError struct{ error }

func (invalidError) InvalidParameter() {}
func (e invalidError) Unwrap() error   { return e.error }

func notFound(format string, args ...any) error {
	return notFoundError{fmt.Errorf(format, args...)}
}

func conflict(format string, args ...any) error {
	return conflictError{fmt.Errorf(format, args...)}
}

func invalid(err error) error { return invalidError{err} }

// IsNotFound reports whether err means no such plugin.
func IsNotFound(err error) bool {
	var e interface{ NotFound() }
	return errors.As(err, &e)
}

// IsConflict reports whether err means the plugin's state forbids the operation.
func IsConflict(err error) bool {
	var e interface{ Conflict() }
	return errors.As(err, &e)
}

// IsTooLarge reports whether err means an input passed its size bound (a
// build context over archive.ContextLimits).
func IsTooLarge(err error) bool {
	var e interface{ TooLarge() }
	return errors.As(err, &e)
}

// IsInvalid reports whether err means the request itself is wrong.
func IsInvalid(err error) bool {
	var e interface{ InvalidParameter() }
	return errors.As(err, &e)
}
