// Package pluginname normalises plugin names as Docker stores them, through
// distribution/reference. It is the daemon's: the client sends names as
// typed and links none of this, since reference compiles its regular
// expressions at init, a cost every CLI process would pay.
package pluginname

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"

	"github.com/plugdbg/plugdbg/errkind"
)

// ErrCanonical is the error for a plugin name that carries a digest.
// The text is the one Docker logs when such a name is looked up
// (store.go: resolvePluginID); Docker then answers "plugin … not found", and
// `docker plugin create` says "canonical references are not permitted".
// Its kind is Invalid.
var ErrCanonical = errkind.Invalid(errors.New("canonical references cannot be resolved"))

// Normalize returns the local name Docker stores for a plugin name:
// the familiar form with a tag, so "vieux/sshfs" becomes "vieux/sshfs:latest",
// "docker.io/library/foo" becomes "foo:latest" and "localhost:5000/p" becomes
// "localhost:5000/p:latest". A name with a digest is rejected with
// ErrCanonical.
func Normalize(name string) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("invalid plugin name %q: %w", name, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return "", fmt.Errorf("%w: %s", ErrCanonical, reference.FamiliarString(named))
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}
