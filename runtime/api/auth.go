package api

import (
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/runtime/distribution"
)

// maxAuthBody: a user name, a password or token and a server address.
const maxAuthBody = 64 << 10

const routeAuth = "POST /auth"

// WithRegistry makes POST /auth check logins against reg, the registry
// client the manager pulls and pushes with (its insecure registries and
// timeouts). Without it, a default one is used. Call it before serving.
func (s *Server) WithRegistry(reg *distribution.Registry) { s.registry = reg }

// auth is Docker's POST /auth: it checks the credentials against the
// registry and answers {"Status": "Login Succeeded"}, or 401 with the
// registry's refusal. It stores nothing; the client keeps the credentials,
// as the docker CLI does.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	var cfg registry.AuthConfig
	if !readJSON(w, r, routeAuth, maxAuthBody, "registry.AuthConfig", &cfg) {
		return
	}
	reg := s.registry
	if reg == nil {
		reg = distribution.New(distribution.Options{})
	}
	if err := reg.CheckLogin(r.Context(), loginHost(cfg.ServerAddress), cfg); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
}

// loginHost is the registry host of a login's server address, as the
// docker CLI sends it: "https://index.docker.io/v1/" (or nothing) for
// Docker Hub, else the host[:port] the user typed, maybe as a URL.
func loginHost(addr string) string {
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://")
	addr, _, _ = strings.Cut(addr, "/")
	switch addr {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return addr
}
