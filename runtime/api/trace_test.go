package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestTraceStartLine: a trace answer's first line comes once the proxy has
// taken the plugin's socket path, and names that path; a call made on the
// path right after it is the next line.
func TestTraceStartLine(t *testing.T) {
	s := testServerOn(t, apitest.ServeRunning(t, "p.sock"))
	s.create(t, "p")
	status, _, body := s.do(t, http.MethodPost, "/plugins/p/enable?timeout=10", nil)
	require.Equal(t, http.StatusOK, status, "enable: %s", body)
	sock := s.inspect(t, "p").State.Socket
	require.NotEmpty(t, sock)
	plugin := inode(t, sock)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plugdbg/plugins/p/trace", nil)
	require.NoError(t, err)
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	dec := json.NewDecoder(resp.Body)

	var first types.TraceRecord
	require.NoError(t, dec.Decode(&first), "the start line")
	assert.Equal(t, sock, first.Tracing)
	assert.Empty(t, first.Method, "the start line is no call")
	assert.NotEqual(t, plugin, inode(t, sock), "the proxy has the path once the start line is out")

	pc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer pc.CloseIdleConnections()
	call, err := pc.Post("http://plugin/VolumeDriver.Get", "application/json", strings.NewReader(`{"Name":"v"}`))
	require.NoError(t, err)
	answer, err := io.ReadAll(call.Body)
	call.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, `{"Echo":"{\"Name\":\"v\"}"}`, string(answer))

	var rec types.TraceRecord
	require.NoError(t, dec.Decode(&rec), "the call's record")
	assert.Equal(t, "VolumeDriver.Get", rec.Method)
	assert.Equal(t, `{"Name":"v"}`, rec.Request)
	assert.Equal(t, http.StatusOK, rec.Status)
	assert.Empty(t, rec.Tracing)
}
