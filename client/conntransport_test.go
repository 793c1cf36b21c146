package client_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// TestAnswerBeforeBodyRead: a daemon that refuses a request from its
// headers, without reading its body (a build context too large), is heard:
// the client reads the answer while the body is still being written, and
// reports the daemon's message, not the broken write.
func TestAnswerBeforeBodyRead(t *testing.T) {
	sock := filepath.Join(apitest.ShortTempDir(t), "d.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			return
		}
		msg := `{"message":"build context too large"}`
		_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n"+msg)
		// Unread, the body fills the socket's buffers: the client's write
		// blocks until the connection closes.
		_, _ = conn.Read(make([]byte, 1))
	}()
	c := client.New("unix://" + sock)
	// Far more than a socket buffers.
	body := bytes.NewReader(make([]byte, 64<<20))
	err = c.Create(testCtx(t), "big", body)
	require.Error(t, err)
	var de *client.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusBadRequest, de.Status)
	assert.Equal(t, "build context too large", de.Message)
}

// TestCancelEndsRequest: the end of the context ends a request whose
// answer does not come, with the context's error.
func TestCancelEndsRequest(t *testing.T) {
	sock := filepath.Join(apitest.ShortTempDir(t), "d.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
			close(got)
		}
		_, _ = conn.Read(make([]byte, 1)) // never answers
	}()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- client.New("unix://"+sock).Disable(ctx, "x", false) }()
	<-got
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}
