//go:build !windows

package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandConnEnd: how the connection's command (sh standing in for
// ssh; sshconn_test.go has the messages, integration/ssh_test.go the real
// sshd) ended reaches the reader whole and in time.
func TestCommandConnEnd(t *testing.T) {
	// ssh's exit status is SSHError.Status and never plugdbg's: nothing in
	// the chain has an ExitCode method (an *exec.ExitError would).
	t.Run("status is not an exit code", func(t *testing.T) {
		for _, status := range []int{3, 127, 255} {
			conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "echo failed >&2; exit " + strconv.Itoa(status)}, "h")
			require.NoError(t, err)
			_, err = io.ReadAll(conn)
			conn.Close()
			var se *SSHError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, status, se.Status)
			assert.Equal(t, "failed", se.Stderr)
			var ec interface{ ExitCode() int }
			assert.False(t, errors.As(err, &ec), "status %d: ssh's exit status must not become plugdbg's", status)
		}
	})

	// What the command wrote before it exited is read whole, however late
	// the reader comes: the pipe is not closed under it when it exits.
	t.Run("output outlives the command", func(t *testing.T) {
		conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "printf '%s' " + strings.Repeat("x", 4000) + "; exit 5"}, "h")
		require.NoError(t, err)
		defer conn.Close()
		<-conn.(*commandConn).waitDone
		b, err := io.ReadAll(conn)
		assert.Equal(t, 4000, len(b))
		var se *SSHError
		require.ErrorAs(t, err, &se, "then how it ended")
		assert.Equal(t, 5, se.Status)
	})

	// A Read waiting when the command exits learns how it ended.
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

	t.Run("after Close", func(t *testing.T) {
		conn, err := newCommandConn(context.Background(), "sh", []string{"-c", "cat"}, "h")
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		_, err = conn.Read(make([]byte, 1))
		assert.ErrorIs(t, err, net.ErrClosed)
		_, err = conn.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}
