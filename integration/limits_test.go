package integration

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
)

// vmHWM is the peak resident size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	require.FailNow(t, "no VmHWM in /proc/"+strconv.Itoa(pid)+"/status")
	return 0
}

// hugeArray streams a JSON array of n empty strings without holding it.
type hugeArray struct{ n, sent int }

func (h *hugeArray) Read(p []byte) (int, error) {
	i := 0
	for i+3 <= len(p) && h.sent <= h.n {
		switch {
		case h.sent == 0:
			p[i] = '['
			i++
		case h.sent == h.n:
			p[i], p[i+1] = '"', '"'
			p[i+2] = ']'
			i += 3
		default:
			p[i], p[i+1], p[i+2] = '"', '"', ','
			i += 3
		}
		h.sent++
	}
	if i == 0 {
		return 0, io.EOF
	}
	return i, nil
}

// TestHugeSetRefused: a set of 100 MB, or of 25 million settings, is
// refused with 413 naming the bound, and the daemon neither stores it nor
// holds it in memory (the daemon once grew from 28 to 654 MB storing one).
func TestHugeSetRefused(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	before := d.inspect(t, "vol")
	pid := d.proc.cmd.Process.Pid
	peak := vmHWM(t, pid)
	const wantMsg = "request body over the 64KiB limit of POST /plugins/{name}/set"

	t.Run("100 MB value through the client", func(t *testing.T) {
		err := d.client.Set(testCtx(t), "vol", []string{"DEBUG=" + strings.Repeat("x", 100<<20)})
		var ce *client.Error
		require.True(t, errors.As(err, &ce), "want *client.Error, got %T: %v", err, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, ce.Status)
		assert.Equal(t, wantMsg, ce.Message)
	})
	t.Run("25M settings, streamed", func(t *testing.T) {
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.sock)
		}}}
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, "http://plugdbg/plugins/vol/set", &hugeArray{n: 25_000_000})
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assert.JSONEq(t, `{"message": "`+wantMsg+`"}`, string(body))
	})

	assert.Equal(t, before, d.inspect(t, "vol"), "nothing stored")
	// Generous: reading the 100 MB value at all would pass it by far.
	grown := vmHWM(t, pid) - peak
	assert.Less(t, grown, int64(32<<20), "the daemon's peak memory grew by %d MiB", grown>>20)
	require.NoError(t, d.client.Set(testCtx(t), "vol", []string{"DEBUG=1"}), "a normal set still works")
	assert.Equal(t, []string{"DEBUG=1"}, d.inspect(t, "vol").Settings.Env)
}
