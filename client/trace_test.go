package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// TestTraceStarted: started gets the plugin's socket once the proxy is on
// it, so a call made from started is recorded; the start line itself is no
// record.
func TestTraceStarted(t *testing.T) {
	c := client.New("unix://" + apitest.ServeRunning(t, "p.sock"))
	ctx := testCtx(t)
	require.NoError(t, c.CreateFromDir(ctx, "p", pluginDir(t, testConfig)))
	require.NoError(t, c.Enable(ctx, "p", 10*time.Second))
	p, err := c.Inspect(ctx, "p")
	require.NoError(t, err)

	traceCtx, stop := context.WithCancel(ctx)
	defer stop()
	var socket string
	var got []types.TraceRecord
	err = c.Trace(traceCtx, "p", func(s string) {
		socket = s
		pc := probe.New(s)
		defer pc.Close()
		assert.NoError(t, pc.Call(ctx, "VolumeDriver.Path", map[string]string{"Name": "v"}, nil))
	}, func(r types.TraceRecord) error {
		got = append(got, r)
		stop()
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, p.State.Socket, socket)
	require.Len(t, got, 1)
	assert.Equal(t, "VolumeDriver.Path", got[0].Method)
	assert.Empty(t, got[0].Tracing)
}
