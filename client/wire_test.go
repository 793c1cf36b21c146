package client

import (
	"encoding/json"
	"testing"

	configtypes "github.com/docker/cli/cli/config/types"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

// TestVersionDecodesMobys: the daemon answers GET /version with moby's
// system.VersionResponse, and the client's types.Version reads its fields.
func TestVersionDecodesMobys(t *testing.T) {
	in := system.VersionResponse{Version: "1.2.3", APIVersion: "1.44", MinAPIVersion: "1.24", GitCommit: "abc",
		GoVersion: "go1.26", Os: "linux", Arch: "amd64", KernelVersion: "6.1"}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var got types.Version
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, types.Version{Version: "1.2.3", APIVersion: "1.44", MinAPIVersion: "1.24", GitCommit: "abc",
		GoVersion: "go1.26", Os: "linux", Arch: "amd64", KernelVersion: "6.1"}, got)
}

// TestEncodeAuthAsMobys: X-Registry-Auth from the docker config's
// AuthConfig is what moby's authconfig.Encode writes for its own type.
func TestEncodeAuthAsMobys(t *testing.T) {
	got, err := encodeAuth(configtypes.AuthConfig{Username: "u", Password: "p<>&", ServerAddress: "localhost:5000", IdentityToken: "tok"})
	require.NoError(t, err)
	want, err := authconfig.Encode(registry.AuthConfig{Username: "u", Password: "p<>&", ServerAddress: "localhost:5000", IdentityToken: "tok"})
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
