// Package testregistry serves go-containerregistry's in-process registry to
// tests, on a loopback port (plugdbg reaches loopback registries over plain
// HTTP, as dockerd does). Only tests import it.
package testregistry

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Start serves a fresh, empty registry through wrap, if given, until the
// test ends. It returns the registry's host:port and its server.
func Start(t testing.TB, wrap func(http.Handler) http.Handler) (string, *httptest.Server) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), srv
}

// BasicAuth is a wrap for Start that demands user and password on every
// request, and refuses others as a registry does: 401, a Basic challenge
// and an UNAUTHORIZED error.
func BasicAuth(user, password string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
