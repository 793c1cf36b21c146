//go:build !windows

package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
)

// fakeSSH puts a script named ssh first on PATH that records its argv and
// then runs body. The real sshd is in the integration tests
// (integration/ssh_test.go); here a script stands in for ssh so that each
// way of ending (and the argv) is checked on its own.
func fakeSSH(t *testing.T, body string) (argvFile string) {
	t.Helper()
	dir := t.TempDir()
	argvFile = filepath.Join(dir, "argv")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + argvFile + "\n" + body + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755))
	t.Setenv("PATH", dir+":/usr/bin:/bin")
	return argvFile
}

func TestSSHArgv(t *testing.T) {
	argv := fakeSSH(t, "exit 3")
	_, err := client.New("ssh://alice@example.test:2222/run/x y.sock").List(testCtx(t), client.ListOptions{})
	require.Error(t, err)
	data, err := os.ReadFile(argv)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"-l", "alice", "-p", "2222", "-o", "ConnectTimeout=30", "-T", "--", "example.test",
		"plugdbg '--host=unix:///run/x y.sock' dial-stdio",
	}, strings.Split(strings.TrimSpace(string(data)), "\n"))
}

func TestSSHErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"auth failed", "echo 'alice@example.test: Permission denied (publickey).' >&2; exit 255", "ssh authentication to example.test failed: alice@example.test: Permission denied (publickey)."},
		{"host key", "echo 'Host key verification failed.' >&2; exit 255", "ssh host key of example.test is unknown or changed"},
		{"unreachable", "echo 'ssh: connect to host example.test port 22: Connection refused' >&2; exit 255", "ssh to example.test failed: ssh: connect to host example.test port 22: Connection refused"},
		{"no plugdbg there", "echo 'sh: 1: plugdbg: not found' >&2; exit 127", "plugdbg is not on the remote PATH of example.test"},
		{"no daemon there", "echo 'Error: no daemon: cannot connect' >&2; exit 3", "no plugdbg daemon answers on example.test: Error: no daemon: cannot connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeSSH(t, tt.body)
			_, err := client.New("ssh://example.test").List(testCtx(t), client.ListOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "cannot connect to the plugdbg daemon at ssh://example.test: ")
			assert.Contains(t, err.Error(), tt.want)
			var de *client.DaemonError
			assert.True(t, errors.As(err, &de), "%T: %v", err, err)
			var se *client.SSHError
			assert.True(t, errors.As(err, &se), "%T: %v", err, err)
		})
	}
}

func TestSSHMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := client.New("ssh://example.test").List(testCtx(t), client.ListOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no ssh client: ssh is not in PATH")
	var de *client.DaemonError
	assert.True(t, errors.As(err, &de), "%T: %v", err, err)
}

func TestInvalidHosts(t *testing.T) {
	for host, want := range map[string]string{
		"ssh://alice:pw@example.test": "plain-text password is not supported",
		"ssh://example.test?x=1":      "query parameters are not allowed",
		"tcp://example.test":          "want tcp://host:port",
		"tcp://example.test:1/x":      "without user, path or query",
		"http://example.test:1":       `scheme "http" is not unix, tcp or ssh`,
		"example.test":                "want unix:///path",
	} {
		_, err := client.NewWithOptions(client.Options{Host: host})
		require.Error(t, err, host)
		assert.ErrorIs(t, err, client.ErrInvalidHost, host)
		assert.Contains(t, err.Error(), want, host)
		_, err = client.New(host).List(testCtx(t), client.ListOptions{})
		assert.ErrorIs(t, err, client.ErrInvalidHost, host)
	}
}
