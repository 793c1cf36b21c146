package contexts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
)

// DefaultName is the context of the flags and environment (-H,
// PLUGDBG_HOST, the TLS flags): reserved, never stored.
const DefaultName = "default"

// MaxNameLen bounds a context's name.
const MaxNameLen = 200

// ErrInvalidName is the kind of a name that cannot be a stored context's.
var ErrInvalidName = errors.New("invalid context name")

// nameFormat is docker's rule (cli/context/store ValidateContextName).
const nameFormat = `^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`

// nameRE is compiled at its first use, not at the start of every process
// of the client (see bench/README.md, start-up time).
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(nameFormat) })

// ValidateName checks that name can be a stored context's: docker's rule,
// at most MaxNameLen bytes, and not "default".
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == DefaultName:
		return fmt.Errorf("%w: %q is reserved for the context of -H and %s", ErrInvalidName, name, EnvHost)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLen)
	case !nameRE().MatchString(name):
		return fmt.Errorf("%w %q: a name has two characters or more, starts with a letter or digit and goes on with letters, digits and _.+- (%s)",
			ErrInvalidName, name, nameFormat)
	}
	return nil
}

// id is the directory name of a context in the store: the hex SHA-256 of
// the exact name, as docker's contextdirOf.
func id(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}
