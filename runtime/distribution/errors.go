package distribution

import (
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error kinds are methods, as in runtime/manager, so that the API maps them
// to HTTP status codes in one place.

type notFoundError struct{ error }

func (notFoundError) NotFound()       {}
func (e notFoundError) Unwrap() error { return e.error }

type unauthorizedError struct{ error }

func (unauthorizedError) Unauthorized()   {}
func (e unauthorizedError) Unwrap() error { return e.error }

type invalidError struct{ error }

func (invalidError) InvalidParameter() {}
func (e invalidError) Unwrap() error   { return e.error }

func invalid(err error) error { return invalidError{err} }

// classify gives a registry's answer its kind: a missing repository or
// manifest is NotFound, a refused login is Unauthorized.
func classify(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	switch te.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return unauthorizedError{err}
	case http.StatusNotFound:
		return notFoundError{err}
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return unauthorizedError{err}
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return notFoundError{err}
		}
	}
	return err
}

// IsUnauthorized reports whether err means the registry refused the
// credentials, or wants some.
func IsUnauthorized(err error) bool {
	var e interface{ Unauthorized() }
	return errors.As(err, &e)
}
