package client_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestLogin: the daemon checks the credentials (POST /auth); only
// accepted ones are stored, in the docker config, where RegistryAuth then
// finds them for pulls and pushes.
func TestLogin(t *testing.T) {
	host, _ := testregistry.Start(t, testregistry.BasicAuth("alice", "s3cret"))
	cfgDir := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", cfgDir)
	c := newDaemon(t)
	ctx := testCtx(t)

	auth, err := client.RegistryAuth(host)
	require.NoError(t, err)
	assert.Empty(t, auth, "no credentials yet")

	_, err = c.Login(ctx, client.LoginOptions{Server: host, Username: "alice", Password: "wrong"})
	var de *client.Error
	require.True(t, errors.As(err, &de), "a daemon's answer: %v", err)
	assert.Equal(t, http.StatusUnauthorized, de.Status)
	assert.Contains(t, de.Message, "unauthorized: authentication required")
	assert.NoFileExists(t, filepath.Join(cfgDir, "config.json"), "refused credentials are not stored")

	key, err := c.Login(ctx, client.LoginOptions{Server: host, Username: "alice", Password: "s3cret"})
	require.NoError(t, err)
	assert.Equal(t, host, key)
	raw, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"`+host+`"`)

	auth, err = client.RegistryAuth(host)
	require.NoError(t, err)
	got, err := authconfig.Decode(auth)
	require.NoError(t, err)
	assert.Equal(t, "alice", got.Username)
	assert.Equal(t, "s3cret", got.Password)
	assert.Equal(t, host, got.ServerAddress)
}
