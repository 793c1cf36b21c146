package config

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// shortIDLen is the length of the IDs that `docker plugin ls` shows.
const shortIDLen = 12

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
