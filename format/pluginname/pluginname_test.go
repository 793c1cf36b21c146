package pluginname

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		wantErr   string
		canonical bool
	}{
		{name: "user repo", in: "vieux/sshfs", want: "vieux/sshfs:latest"},
		{name: "tag kept", in: "vieux/sshfs:next", want: "vieux/sshfs:next"},
		{name: "official", in: "docker.io/library/foo", want: "foo:latest"},
		{name: "short", in: "foo", want: "foo:latest"},
		{name: "docker.io user", in: "docker.io/vieux/sshfs:1.2", want: "vieux/sshfs:1.2"},
		{name: "local registry", in: "localhost:5000/p", want: "localhost:5000/p:latest"},
		{name: "registry with tag", in: "registry.example.com/team/p:v2", want: "registry.example.com/team/p:v2"},
		{
			name:      "digest",
			in:        "vieux/sshfs@sha256:" + strings.Repeat("a", 64),
			wantErr:   "canonical references cannot be resolved: vieux/sshfs@sha256:" + strings.Repeat("a", 64),
			canonical: true,
		},
		{
			name:      "tag and digest",
			in:        "vieux/sshfs:latest@sha256:" + strings.Repeat("a", 64),
			wantErr:   "canonical references cannot be resolved",
			canonical: true,
		},
		{name: "upper case", in: "vieux/SSHFS", wantErr: `invalid plugin name "vieux/SSHFS": invalid reference format: repository name (vieux/SSHFS) must be lowercase`},
		{name: "upper case first part", in: "Vieux/SSHFS", wantErr: `invalid plugin name "Vieux/SSHFS": invalid reference format: repository name (SSHFS) must be lowercase`},
		{name: "empty", in: "", wantErr: `invalid plugin name "": invalid reference format`},
		{name: "bad characters", in: "vieux/ssh fs", wantErr: `invalid plugin name "vieux/ssh fs": invalid reference format`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, tt.canonical, errors.Is(err, ErrCanonical))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
