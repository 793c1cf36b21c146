// Package uiauth holds the web UI's access rules that both of its servers
// apply: the daemon's own UI address (webui) and the client's local relay
// (plugdbg ui, package uirelay). A browser page presents a random token
// explicitly, never as a cookie (a browser sends a 127.0.0.1 cookie to
// every port of that address), and is accepted only under the address it
// was served from (Host and Origin), which also defeats DNS rebinding. The
// package is pure Go and small, so that the client links it without the
// UI's server.
package uiauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The websocket subprotocols of the page. A browser cannot set headers on
// a websocket, so the page offers Subprotocol along with
// TokenProtocolPrefix+token, which carries the token; a server answers
// with Subprotocol and never echoes the token back.
const (
	Subprotocol         = "plugdbg"
	TokenProtocolPrefix = "plugdbg.token."
)

// TokenHeader is the header the page presents the token in on a fetch.
const TokenHeader = "X-Plugdbg-Token"

// NewToken returns a random access token: 32 bytes, hex-encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web UI token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// URL is the address a browser opens, with the token: the page moves it
// from the address bar to its own per-origin storage.
func URL(addr, token string) string {
	return "http://" + addr + "/?token=" + token
}

// RequestToken is the token a request presents explicitly: the
// X-Plugdbg-Token or Authorization: Bearer header, or a websocket
// subprotocol TokenProtocolPrefix+token. Nothing a browser attaches on its
// own (a cookie) and nothing from the URL (which ends up in logs and
// history) counts.
func RequestToken(r *http.Request) string {
	if t := r.Header.Get(TokenHeader); t != "" {
		return t
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	for _, p := range Subprotocols(r.Header) {
		if t, ok := strings.CutPrefix(p, TokenProtocolPrefix); ok {
			return t
		}
	}
	return ""
}

// TokenEqual reports whether got is want, comparing in constant time.
// Hashing first makes the time independent of the length of got too. An
// empty want matches nothing.
func TokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}

// Subprotocols are the websocket subprotocols h offers
// (Sec-WebSocket-Protocol, a comma-separated list, possibly in several
// header lines), as gorilla/websocket reads them.
func Subprotocols(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// WithoutToken is protocols without the ones that carry a token.
func WithoutToken(protocols []string) []string {
	var out []string
	for _, p := range protocols {
		if !strings.HasPrefix(p, TokenProtocolPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// Site is the names a UI listening on one address answers to. Its methods
// are safe for concurrent use.
type Site struct {
	hosts   map[string]bool // allowed Host headers; nil: any
	origins map[string]bool // allowed Origin values, "http://host:port"
}

// NewSite returns the Site of addr, the host:port a UI listens on (the
// real port, not 0). A fixed address accepts only its own name as Host and
// Origin, plus localhost:port and 127.0.0.1:port for a loopback one; an
// unspecified address (every interface) accepts any Host, and an Origin
// equal to the request's Host.
func NewSite(addr string) (*Site, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("web UI address %q: %w", addr, err)
	}
	s := &Site{origins: map[string]bool{}}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsUnspecified() {
		return s, nil
	}
	names := []string{net.JoinHostPort(host, port)}
	if ip != nil && ip.IsLoopback() || host == "localhost" {
		names = append(names, net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port))
	}
	s.hosts = map[string]bool{}
	for _, n := range names {
		s.hosts[n] = true
		s.origins["http://"+n] = true
	}
	return s, nil
}

// HostOK reports whether host, a request's Host header, names the site.
func (s *Site) HostOK(host string) bool {
	return s.hosts == nil || s.hosts[host]
}

// OriginOK reports whether r comes from a page of the site: its Origin
// header is present and one of the site's origins (for an unspecified
// address, the request's own Host, as gorilla/websocket checks by
// default).
func (s *Site) OriginOK(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	if s.hosts == nil {
		return origin == "http://"+r.Host
	}
	return s.origins[origin]
}
