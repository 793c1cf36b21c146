package oneconn_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/oneconn"
)

// serve accepts one connection on a fresh unix socket and hands it to
// handle; it returns a connection to it.
func serve(t *testing.T, handle func(net.Conn)) net.Conn {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		handle(c)
	}()
	conn, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	return conn
}

func TestRoundTrip(t *testing.T) {
	t.Run("answer", func(t *testing.T) {
		conn := serve(t, func(c net.Conn) {
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				return
			}
			b, _ := io.ReadAll(req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(b)+len(req.URL.Path))+"\r\n\r\n"+req.URL.Path+string(b))
		})
		req, err := http.NewRequest(http.MethodPost, "http://x/Plugin.Activate", strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := oneconn.RoundTrip(conn, req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "/Plugin.Activate{}", string(b))
		require.NoError(t, resp.Body.Close())
		_, err = conn.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed, "closing the body closes the connection")
	})

	t.Run("closed before an answer", func(t *testing.T) {
		conn := serve(t, func(c net.Conn) { _, _ = http.ReadRequest(bufio.NewReader(c)) })
		req, err := http.NewRequest(http.MethodGet, "http://x/", nil)
		require.NoError(t, err)
		_, err = oneconn.RoundTrip(conn, req)
		assert.ErrorIs(t, err, io.EOF)
	})

	t.Run("context ends while waiting", func(t *testing.T) {
		got := make(chan struct{})
		conn := serve(t, func(c net.Conn) {
			_, _ = http.ReadRequest(bufio.NewReader(c))
			close(got)
			_, _ = io.Copy(io.Discard, c) // never answers; ends when the client closes
		})
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/", nil)
		require.NoError(t, err)
		go func() { <-got; cancel() }()
		_, err = oneconn.RoundTrip(conn, req)
		assert.True(t, errors.Is(err, context.Canceled), "err %v", err)
	})
}
