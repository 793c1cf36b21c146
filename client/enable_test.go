package client_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// TestEnableProgress: on a terminal the client shows what the daemon waits
// for; elsewhere nothing, and the request is Docker's, answered with 200
// and no body. An enable that fails once the wait began still fails with
// the daemon's message and kind.
func TestEnableProgress(t *testing.T) {
	api := apitest.ServeRunning(t, "p.sock")
	c := client.New("unix://" + api)
	ctx := testCtx(t)
	require.NoError(t, c.CreateFromDir(ctx, "p", pluginDir(t, testConfig)))
	require.NoError(t, c.CreateFromDir(ctx, "q", pluginDir(t, testConfig)))
	// r declares a socket the test executor never creates.
	require.NoError(t, c.CreateFromDir(ctx, "r", pluginDir(t, strings.Replace(testConfig, `"p.sock"`, `"r.sock"`, 1))))

	var tty bytes.Buffer
	require.NoError(t, c.EnableProgress(ctx, "p", 10*time.Second, &client.Display{Out: &tty, TTY: true}))
	p, err := c.Inspect(ctx, "p")
	require.NoError(t, err)
	assert.Equal(t, "waiting for Plugin.Activate on "+p.State.Socket+" (timeout 10s)\n", tty.String())

	var plain bytes.Buffer
	require.NoError(t, c.EnableProgress(ctx, "q", 10*time.Second, &client.Display{Out: &plain}))
	assert.Empty(t, plain.String(), "nothing extra when the output is not a terminal")

	tty.Reset()
	err = c.EnableProgress(ctx, "r", time.Second, &client.Display{Out: &tty, TTY: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "enable r:latest: plugin did not create its socket")
	assert.True(t, errdefs.IsInternal(err), "the kind travels in the stream: %v", err)
	assert.Contains(t, tty.String(), "waiting for Plugin.Activate on ")
	assert.Contains(t, tty.String(), "r.sock (timeout 1s)\n")

	err = c.EnableProgress(ctx, "nope", time.Second, &client.Display{Out: &tty, TTY: true})
	assert.True(t, client.IsNotFound(err), "an error before the wait is a plain status: %v", err)

	// Docker's request, as the docker CLI sends it, gets Docker's answer.
	require.NoError(t, c.Disable(ctx, "q", true))
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx2 context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx2, "unix", api)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/v1.41/plugins/q/enable?timeout=10", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Empty(t, body)
}
