package client

import (
	"testing"

	"github.com/distribution/reference"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseRefAsReference holds parseRef to distribution/reference, which
// the daemon parses with: the same full and familiar forms, domain and
// digest for every reference it accepts, and a refusal for what both see
// as malformed.
func TestParseRefAsReference(t *testing.T) {
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	valid := []string{
		"foo", "foo:1", "library/foo", "docker.io/foo", "docker.io/library/foo:2",
		"index.docker.io/vieux/sshfs", "vieux/sshfs", "vieux/sshfs:next", "a/b/c:d",
		"localhost/p", "localhost:5000/p", "localhost:5000/team/p:v2", "127.0.0.1:5000/p:1",
		"registry.example.com/team/p:v2", "registry.example.com:443/p", "example.com/p",
		"foo@" + digest, "vieux/sshfs:latest@" + digest, "localhost:5000/p@" + digest,
		"my-reg.example/a.b/c_d__e:T.A-G", "[::1]:5000/p:1",
	}
	for _, s := range valid {
		t.Run(s, func(t *testing.T) {
			want, err := reference.ParseNormalizedNamed(s)
			require.NoError(t, err, "reference accepts it")
			got, err := parseRef(s)
			require.NoError(t, err)
			assert.Equal(t, want.String(), got.String())
			assert.Equal(t, reference.Domain(want), got.domain)
			assert.Equal(t, reference.FamiliarString(want), got.Familiar())
			_, canonical := want.(reference.Canonical)
			assert.Equal(t, canonical, got.canonical())
			assert.Equal(t, reference.TagNameOnly(want).String(), got.tagged().String())
			assert.Equal(t, reference.FamiliarString(reference.TagNameOnly(want)), got.tagged().Familiar())
		})
	}
	for _, s := range []string{"", " ", "foo bar", "foo:", "/foo", "foo/", "a//b", "Foo/Bar", "vieux/SSHFS", "foo@sha256", "foo\n"} {
		t.Run("refused "+s, func(t *testing.T) {
			_, err := reference.ParseNormalizedNamed(s)
			require.Error(t, err, "reference refuses it")
			_, err = parseRef(s)
			assert.Error(t, err)
		})
	}
	_, err := parseRef("vieux/SSHFS")
	assert.EqualError(t, err, "invalid reference format: repository name (vieux/SSHFS) must be lowercase")
}
