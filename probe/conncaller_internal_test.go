package probe

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnCallerRedialsAfterIdleClose: a connection the plugin closed
// while it was idle is noticed before the next request is written; the
// call goes on a new connection and is sent once.
func TestConnCallerRedialsAfterIdleClose(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "p.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	requests := make(chan string, 10)
	closed := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				// One answer, then the connection is closed: as a plugin
				// closing an idle connection does.
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					requests <- r.URL.Path
					_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
				}
				c.Close()
				closed <- struct{}{}
			}()
		}
	}()
	k, err := newConnCaller(New(sock), "VolumeDriver.List", []byte("{}\n"))
	require.NoError(t, err)
	defer k.close()
	for i := range 3 {
		r, err := k.call(context.Background())
		require.NoError(t, err, "call %d", i+1)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "{}", string(r.Body))
		<-closed // the connection is closed before the next call
	}
	close(requests)
	var got []string
	for p := range requests {
		got = append(got, p)
	}
	assert.Equal(t, []string{"/VolumeDriver.List", "/VolumeDriver.List", "/VolumeDriver.List"}, got, "each call sent once")
}
