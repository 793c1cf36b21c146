package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/plugdbg/plugdbg/errkind"
)

// ErrCanonicalReference is the error for a plugin name that carries a digest.
// The text is the one Docker logs when such a name is looked up
// (store.go: resolvePluginID); Docker then answers "plugin … not found", and
// `docker plugin create` says "canonical references are not permitted".
// Its kind is Invalid.
var ErrCanonicalReference = errkind.Invalid(errors.New("canonical references cannot be resolved"))

// shortIDLen is the length of the IDs that `docker plugin ls` shows.
const shortIDLen = 12

// NormalizeName returns the local name Docker stores for a plugin name:
// the familiar form with a tag, so "vieux/sshfs" becomes "vieux/sshfs:latest",
// "docker.io/library/foo" becomes "foo:latest" and "localhost:5000/p" becomes
// "localhost:5000/p:latest". A name with a digest is rejected with
// ErrCanonicalReference.
func NormalizeName(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("invalid plugin name %q: %w", name, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return "", fmt.Errorf("%w: %s", ErrCanonicalReference, reference.FamiliarString(named))
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// NewID returns a new random plugin ID: 32 random bytes as 64 lower-case hex
// characters. Like Docker (stringid.GenerateRandomID) it draws again while the
// 12-character short form is all digits, since such an ID reads as a number.
func NewID() string {
	b := make([]byte, 32)
	for {
		_, _ = rand.Read(b) // never fails; crypto/rand panics instead
		id := hex.EncodeToString(b)
		if strings.Trim(id[:shortIDLen], "0123456789") != "" {
			return id
		}
	}
}

// IsID reports whether s is a full plugin ID: exactly 64 lower-case hex characters.
func IsID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ShortID returns the 12-character form of id that `docker plugin ls` shows,
// or id itself if it is shorter.
func ShortID(id string) string {
	if len(id) > shortIDLen {
		return id[:shortIDLen]
	}
	return id
}
