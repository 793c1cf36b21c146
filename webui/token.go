package webui

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/plugdbg/plugdbg/uiauth"
)

// TokenFile is the name of the token's file in the daemon's exec-root.
const TokenFile = "webui.token"

// oldCookie is the cookie earlier versions kept the token in. A browser
// sends a 127.0.0.1 cookie to every port of that address, so it is never
// taken as a credential; a request that still carries one has it cleared.
const oldCookie = "plugdbg_token"

// Subprotocol and TokenProtocolPrefix are the page's websocket
// subprotocols (see package uiauth).
const (
	Subprotocol         = uiauth.Subprotocol
	TokenProtocolPrefix = uiauth.TokenProtocolPrefix
)

// NewToken returns a random access token: 32 bytes, hex-encoded.
func NewToken() (string, error) { return uiauth.NewToken() }

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
