package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorilla/websocket"
)

// TokenFile is the name of the token's file in the daemon's exec-root.
const TokenFile = "webui.token"

// oldCookie is the cookie earlier versions kept the token in. A browser
// sends a 127.0.0.1 cookie to every port of that address, so it is never
// taken as a credential; a request that still carries one has it cleared.
const oldCookie = "plugdbg_token"

// Subprotocol is the websocket subprotocol the server answers with. A
// browser cannot set headers on a websocket, so the page offers it along
// with TokenProtocolPrefix+token, which carries the token; the answer
// never echoes the token back.
const (
	Subprotocol         = "plugdbg"
	TokenProtocolPrefix = "plugdbg.token."
)

// NewToken returns a random access token: 32 bytes, hex-encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web UI token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// WriteToken writes token to dir/webui.token, readable by its owner only
// (root for the daemon). The file is replaced, never appended to.
func WriteToken(dir, token string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write web UI token: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // in case tmp existed with other bits
		return "", fmt.Errorf("write web UI token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write web UI token: %w", err)
	}
	return path, nil
}

// requestToken is the token a request presents explicitly: the
// X-Plugdbg-Token or Authorization: Bearer header, or a websocket
// subprotocol TokenProtocolPrefix+token. Nothing a browser attaches on its
// own (a cookie) and nothing from the URL (which ends up in logs and
// history) counts.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Plugdbg-Token"); t != "" {
		return t
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	for _, p := range websocket.Subprotocols(r) {
		if t, ok := strings.CutPrefix(p, TokenProtocolPrefix); ok {
			return t
		}
	}
	return ""
}

// tokenEqual compares in constant time. Hashing first makes the time
// independent of the length of got too.
func tokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}
