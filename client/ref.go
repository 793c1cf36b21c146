package client

import (
	"errors"
	"strings"
)

// The client reads image references as far as it must and no further: the
// registry host, to pick credentials, and the full and familiar forms, to
// compare two references and to print them as Docker does. The daemon
// parses every reference it is sent with distribution/reference and answers
// its errors. The client does not link that package: it compiles its
// regular expressions at init, ~40 % of the start of every CLI process,
// `plugdbg probe` included (bench/README.md).

const (
	defaultDomain = "docker.io"
	legacyDomain  = "index.docker.io"
	officialRepo  = "library/"
)

// errRefFormat is reference's own wording for a reference it cannot parse.
var errRefFormat = errors.New("invalid reference format")

// imageRef is a reference in Docker's normalised form: docker.io's images
// have their domain, and its official ones their "library/".
type imageRef struct {
	domain string // "docker.io", "localhost:5000"
	path   string // "library/foo", "vieux/sshfs"
	tag    string // "" when none was given
	digest string // "sha256:…" when one was given
}

// parseRef splits s as reference.ParseNormalizedNamed would, and refuses
// what is plainly no reference (empty parts, blanks, upper-case
// repositories); the daemon checks the rest.
func parseRef(s string) (imageRef, error) {
	var r imageRef
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return r, errRefFormat
	}
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, r.digest = name[:i], name[i+1:]
		if !strings.Contains(r.digest, ":") {
			return r, errRefFormat
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, r.tag = name[:i], name[i+1:]
		if r.tag == "" {
			return r, errRefFormat
		}
	}
	// Docker's rule: the first component is a registry host when it has a
	// dot or a port, or is localhost, or has upper case (no repository may).
	r.domain, r.path = defaultDomain, name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first {
			r.domain, r.path = first, name[i+1:]
		}
	}
	if r.domain == legacyDomain {
		r.domain = defaultDomain
	}
	if r.domain == defaultDomain && !strings.Contains(r.path, "/") {
		r.path = officialRepo + r.path
	}
	if r.path == "" || strings.HasPrefix(r.path, "/") || strings.HasSuffix(r.path, "/") || strings.Contains(r.path, "//") {
		return r, errRefFormat
	}
	if strings.ToLower(r.path) != r.path {
		return r, errors.New(errRefFormat.Error() + ": repository name (" + r.path + ") must be lowercase")
	}
	return r, nil
}

// canonical reports whether r names an image by digest.
func (r imageRef) canonical() bool { return r.digest != "" }

// tagged is r with Docker's default tag when it has neither tag nor digest
// (reference.TagNameOnly).
func (r imageRef) tagged() imageRef {
	if r.tag == "" && r.digest == "" {
		r.tag = "latest"
	}
	return r
}

// String is the full form: "docker.io/library/foo:latest".
func (r imageRef) String() string { return r.domain + "/" + r.path + r.suffix() }

// Familiar is the form Docker prints: "foo:latest", "vieux/sshfs:1.2",
// "localhost:5000/p:latest".
func (r imageRef) Familiar() string {
	if r.domain != defaultDomain {
		return r.String()
	}
	path := r.path
	if rest, ok := strings.CutPrefix(path, officialRepo); ok && !strings.Contains(rest, "/") {
		path = rest
	}
	return path + r.suffix()
}

func (r imageRef) suffix() string {
	s := ""
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}
