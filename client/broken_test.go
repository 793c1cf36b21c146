package client_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// breakingDaemon serves a unix socket whose every connection reads one
// request, then has answer write what it likes on the connection, which is
// closed after it: a daemon that dies or drops the connection mid-request.
func breakingDaemon(t *testing.T, answer func(w io.Writer)) *client.Client {
	t.Helper()
	sock := filepath.Join(apitest.ShortTempDir(t), "d.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if req, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				_, _ = io.Copy(io.Discard, req.Body)
				answer(conn)
			}
			conn.Close()
		}
	}()
	return client.New("unix://" + sock)
}

// TestBrokenConnection: a daemon that was reached but dropped the
// connection before its answer was complete is reported as such, naming
// the request, never as "cannot connect" (whose hint, "is the daemon
// running", would mislead).
func TestBrokenConnection(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(w io.Writer)
		call    func(c *client.Client) error
		wantMsg string
	}{
		{
			name:    "closed before answering",
			answer:  func(io.Writer) {},
			call:    func(c *client.Client) error { return c.Enable(testCtx(t), "x", 0) },
			wantMsg: "the connection to the daemon broke during POST /plugins/x/enable: EOF",
		},
		{
			name:    "closed mid-header",
			answer:  func(w io.Writer) { _, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: appl") },
			call:    func(c *client.Client) error { _, err := c.Inspect(testCtx(t), "x"); return err },
			wantMsg: "the connection to the daemon broke during GET /plugins/x/json: unexpected EOF",
		},
		{
			name: "closed mid-body",
			answer: func(w io.Writer) {
				_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"Name\": \"x")
			},
			call:    func(c *client.Client) error { _, err := c.Inspect(testCtx(t), "x"); return err },
			wantMsg: "the connection to the daemon broke during GET /plugins/x/json: unexpected EOF",
		},
		{
			name:   "exec closed before answering",
			answer: func(io.Writer) {},
			call: func(c *client.Client) error {
				_, err := c.Exec(testCtx(t), "x", types.ExecConfig{Cmd: []string{"sh"}})
				return err
			},
			wantMsg: "the connection to the daemon broke during POST /plugins/x/exec: unexpected EOF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(breakingDaemon(t, tt.answer))
			require.Error(t, err)
			var ce *client.ConnError
			require.True(t, errors.As(err, &ce), "want *client.ConnError, got %T: %v", err, err)
			assert.EqualError(t, err, tt.wantMsg)
			var de *client.DaemonError
			assert.False(t, errors.As(err, &de), "not a failure to connect")
			assert.NotContains(t, err.Error(), "cannot connect")
		})
	}
}

// TestDaemonUnreachableExec: exec dials the socket itself; a dial failure
// keeps the "cannot connect" hint there too.
func TestDaemonUnreachableExec(t *testing.T) {
	c := client.New("unix://" + filepath.Join(apitest.ShortTempDir(t), "missing.sock"))
	_, err := c.Exec(testCtx(t), "x", types.ExecConfig{Cmd: []string{"sh"}})
	var de *client.DaemonError
	require.True(t, errors.As(err, &de), "want *client.DaemonError, got %T: %v", err, err)
	assert.Contains(t, err.Error(), "is plugdbgd running")
}
