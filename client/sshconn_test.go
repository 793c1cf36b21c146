//go:build !windows

package client

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandConnExit: the way the command behind a connection ended is
// told in words, with its stderr, and its exit status never becomes
// plugdbg's (no ExitCode method in the chain). sh stands in for ssh; the
// integration tests (TestSSHErrors) run the real one.
func TestCommandConnExit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		reason string
		status int
	}{
		{"no daemon", "echo 'Error: no daemon: dial unix /x.sock' >&2; exit 3", "no plugdbg daemon answers on h", 3},
		{"no plugdbg", "echo 'bash: line 1: plugdbg: command not found' >&2; exit 127", "plugdbg is not on the remote PATH of h", 127},
		{"auth", "echo 'root@h: Permission denied (publickey).' >&2; exit 255", "ssh authentication to h failed", 255},
		{"host key", "echo 'Host key verification failed.' >&2; exit 255", "ssh host key of h is unknown or changed", 255},
		{"other ssh failure", "echo 'ssh: connect to host h port 22: Connection refused' >&2; exit 255", "ssh to h failed", 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "cat >/dev/null; " + tt.script}, "h")
			require.NoError(t, err)
			defer conn.Close()
			_, err = conn.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			require.NoError(t, err)
			require.NoError(t, conn.(*commandConn).CloseWrite())
			_, err = io.ReadAll(conn)
			var se *SSHError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, se.Reason, tt.reason)
			assert.Equal(t, tt.status, se.Status)
			assert.NotEmpty(t, se.Stderr)
			assert.Contains(t, err.Error(), se.Stderr, "the message shows what was written on stderr")
			var ec interface{ ExitCode() int }
			assert.False(t, errors.As(err, &ec), "ssh's exit status must not become plugdbg's")
		})
	}

	// A Read waiting when the command exits learns how it ended: its
	// pipe is not closed under it (exec's StdoutPipe would be, by Wait,
	// racing the EOF).
	t.Run("read waiting at the exit", func(t *testing.T) {
		for range 200 {
			conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "exit 255"}, "h")
			require.NoError(t, err)
			_, err = conn.Read(make([]byte, 16))
			conn.Close()
			var se *SSHError
			require.ErrorAs(t, err, &se)
			require.Equal(t, 255, se.Status)
		}
	})

	t.Run("clean exit is EOF", func(t *testing.T) {
		conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "echo hi"}, "h")
		require.NoError(t, err)
		defer conn.Close()
		b, err := io.ReadAll(conn)
		require.NoError(t, err)
		assert.Equal(t, "hi\n", string(b))
	})

	t.Run("no such command", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := newCommandConn(context.Background(), "ssh", nil, "h")
		var se *SSHError
		require.ErrorAs(t, err, &se)
		assert.Contains(t, se.Error(), "no ssh client: ssh is not in PATH")
		assert.Equal(t, -1, se.Status)
	})
}
