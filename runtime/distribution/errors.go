package distribution

import (
	"errors"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/plugdbg/plugdbg/errkind"
)

// classify gives a registry's answer its kind: a missing repository or
// manifest is NotFound, a refused login is Unauthenticated.
func classify(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	switch te.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return errkind.Unauthenticated(err)
	case http.StatusNotFound:
		return errkind.NotFound(err)
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return errkind.Unauthenticated(err)
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return errkind.NotFound(err)
		}
	}
	return err
}
