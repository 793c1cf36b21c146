package errkind_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"

	"github.com/plugdbg/plugdbg/errkind"
)

// methodKinds are error types that carry a kind by its method, as the
// API's and archive's own error types do.
type tooLargeType struct{}

func (tooLargeType) Error() string      { return "body over its limit" }
func (tooLargeType) ResourceExhausted() {}

type upstreamType struct{}

func (upstreamType) Error() string { return "dockerd: boom" }
func (upstreamType) Unavailable()  {}

// TestHTTPStatus is the one mapping, kind to status, as clients have seen
// it since the API's first version.
func TestHTTPStatus(t *testing.T) {
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "not found", err: errkind.NotFound(base), want: http.StatusNotFound},
		{name: "conflict", err: errkind.Conflict(base), want: http.StatusConflict},
		{name: "invalid", err: errkind.Invalid(base), want: http.StatusBadRequest},
		{name: "unauthenticated", err: errkind.Unauthenticated(base), want: http.StatusUnauthorized},
		{name: "too large", err: errkind.TooLarge(base), want: http.StatusRequestEntityTooLarge},
		{name: "too large by method", err: tooLargeType{}, want: http.StatusRequestEntityTooLarge},
		{name: "too large and invalid is too large", err: errkind.Invalid(fmt.Errorf("create: %w", tooLargeType{})), want: http.StatusRequestEntityTooLarge},
		{name: "not found and conflict is not found", err: errkind.Conflict(errkind.NotFound(base)), want: http.StatusNotFound},
		{name: "unavailable", err: errkind.Unavailable(base), want: http.StatusBadGateway},
		{name: "unavailable by method", err: fmt.Errorf("list: %w", upstreamType{}), want: http.StatusBadGateway},
		{name: "not implemented", err: errkind.NotImplemented(base), want: http.StatusNotImplemented},
		{name: "context deadline", err: fmt.Errorf("enable: %w", context.DeadlineExceeded), want: http.StatusRequestTimeout},
		{name: "deadline kind", err: errkind.ErrDeadlineExceeded, want: http.StatusRequestTimeout},
		{name: "errdefs sentinel", err: fmt.Errorf("x: %w", errdefs.ErrNotFound), want: http.StatusNotFound},
		{name: "internal", err: errdefs.ErrInternal, want: http.StatusInternalServerError},
		{name: "no kind", err: base, want: http.StatusInternalServerError},
		{name: "context canceled", err: context.Canceled, want: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, errkind.HTTPStatus(tt.err))
		})
	}
}

// TestFromHTTPStatus reads a kind back from a status: each kind the
// daemon answers with comes back as itself.
func TestFromHTTPStatus(t *testing.T) {
	tests := []struct {
		name   string
		status int
		is     func(error) bool
	}{
		{name: "404", status: http.StatusNotFound, is: errdefs.IsNotFound},
		{name: "409", status: http.StatusConflict, is: errdefs.IsConflict},
		{name: "400", status: http.StatusBadRequest, is: errdefs.IsInvalidArgument},
		{name: "401", status: http.StatusUnauthorized, is: errdefs.IsUnauthorized},
		{name: "413", status: http.StatusRequestEntityTooLarge, is: errdefs.IsResourceExhausted},
		{name: "502", status: http.StatusBadGateway, is: errdefs.IsUnavailable},
		{name: "408", status: http.StatusRequestTimeout, is: errdefs.IsDeadlineExceeded},
		{name: "501", status: http.StatusNotImplemented, is: errdefs.IsNotImplemented},
		{name: "500", status: http.StatusInternalServerError, is: errdefs.IsInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := errkind.FromHTTPStatus(tt.status)
			assert.True(t, tt.is(kind), "kind %v", kind)
			assert.Equal(t, tt.status, errkind.HTTPStatus(kind), "the round trip keeps the status")
		})
	}
	assert.Nil(t, errkind.FromHTTPStatus(http.StatusTeapot))
	assert.NotErrorIs(t, errkind.FromHTTPStatus(http.StatusRequestTimeout), context.DeadlineExceeded,
		"a daemon's 408 is not the caller's own context ending")
}

// TestWrapKeepsError checks that a kind changes neither the message nor
// what errors.Is and errors.As reach.
func TestWrapKeepsError(t *testing.T) {
	sentinel := errors.New("plugin is stopping")
	err := errkind.Conflict(fmt.Errorf("cannot exec in plugin p: %w", sentinel))
	assert.EqualError(t, err, "cannot exec in plugin p: plugin is stopping")
	assert.ErrorIs(t, err, sentinel)
	assert.ErrorIs(t, err, errdefs.ErrConflict)
	assert.True(t, errdefs.IsConflict(err))
	assert.False(t, errdefs.IsNotFound(err))

	var tl tooLargeType
	assert.ErrorAs(t, errkind.Invalid(fmt.Errorf("create: %w", tooLargeType{})), &tl)

	assert.NoError(t, errkind.NotFound(nil), "no error has no kind")

	// A sentinel defined with a kind is still found by errors.Is, and
	// comparing it never panics on an uncomparable wrapped value.
	notRunning := errkind.Conflict(errors.New("container is not running"))
	assert.ErrorIs(t, fmt.Errorf("top: %w", notRunning), notRunning)
	assert.NotErrorIs(t, errkind.Conflict(listError{}), errkind.Conflict(listError{}))
}

// listError is an error value that == cannot compare.
type listError struct{ errs []error }

func (listError) Error() string { return "several" }
