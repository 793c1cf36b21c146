package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the token's file in the daemon's exec-root.
const TokenFile = "webui.token"

// cookieName carries the token after the first authenticated page load.
const cookieName = "plugdbg_token"

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

// requestToken is the token a request carries: the query's token, the
// X-Plugdbg-Token or Authorization: Bearer header, or the cookie, in that
// order. fromQuery reports whether it came from the query.
func requestToken(r *http.Request) (tok string, fromQuery bool) {
	if t := r.URL.Query().Get("token"); t != "" {
		return t, true
	}
	if t := r.Header.Get("X-Plugdbg-Token"); t != "" {
		return t, false
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t), false
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value, false
	}
	return "", false
}

// tokenEqual compares in constant time.
func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
