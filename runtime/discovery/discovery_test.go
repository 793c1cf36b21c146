package discovery

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"vol:latest", "vol"},
		{"me/vol:latest", "me/vol"},
		{"me/vol:v2", "me/vol:v2"},
		{"reg.local:5000/me/vol:latest", "reg.local:5000/me/vol"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) { assert.Equal(t, tt.want, Name(tt.in)) })
	}
}

func TestPublishUnpublish(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()

	link, err := Publish(dir, "me/vol:latest", sock)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "me", "vol.sock"), link)
	fi, err := os.Stat(link) // follows the link, as dockerd does
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type(), "the published path must stat as a socket")
	c, err := net.Dial("unix", link)
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, link, Published(dir, "me/vol:latest", sock))

	// Publishing again replaces the link; no temporary name is left.
	_, err = Publish(dir, "me/vol:latest", sock)
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Join(dir, "me"))
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	// Another socket's unpublish leaves the link alone.
	require.NoError(t, Unpublish(dir, "me/vol:latest", "/elsewhere.sock"))
	assert.FileExists(t, link)
	require.NoError(t, Unpublish(dir, "me/vol:latest", sock))
	assert.NoFileExists(t, link)
	assert.NoDirExists(t, filepath.Join(dir, "me"), "the directory made for the name is gone")
	assert.DirExists(t, dir)
	assert.Equal(t, "", Published(dir, "me/vol:latest", sock))
	require.NoError(t, Unpublish(dir, "me/vol:latest", sock), "unpublishing twice is fine")
}

func TestPublishRefusesForeignFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "vol.sock")
	ln, err := net.Listen("unix", sock) // a legacy plugin's own socket
	require.NoError(t, err)
	defer ln.Close()
	_, err = Publish(dir, "vol", "/run/plugdbg/plugins/x/vol.sock")
	assert.ErrorContains(t, err, "is not a link plugdbg made")
	require.NoError(t, Unpublish(dir, "vol", sock))
	fi, err := os.Lstat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type(), "a real socket is never removed")
}
