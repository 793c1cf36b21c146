package probe_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
)

func TestBenchCountsEveryCall(t *testing.T) {
	var n atomic.Int64
	f := newFakePlugin(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			reply(http.StatusOK, `{"Volumes":[],"Err":"boom"}`)(w, r)
			return
		}
		reply(http.StatusOK, `{"Volumes":[],"Err":""}`)(w, r)
	})
	c := probe.New(f.socket)
	defer c.Close()
	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", []byte("{}\n"), probe.BenchOptions{Calls: 50, Concurrency: 4, Timeout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 50, st.Calls)
	assert.Len(t, f.requests(), 50)
	assert.Equal(t, 5, st.Failures, "every tenth answer carries an Err")
	var pe *probe.PluginError
	require.ErrorAs(t, st.FirstErr, &pe)
	assert.Equal(t, "boom", pe.Msg)
	assert.Len(t, st.Latencies, 50)
	assert.True(t, st.Percentile(50) > 0 && st.Percentile(50) <= st.Percentile(99))
}

// A call that outlives the timeout fails on its own; the worker goes on
// with the next calls.
func TestBenchTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var n atomic.Int64
	f := newFakePlugin(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		reply(http.StatusOK, `{"Volumes":[],"Err":""}`)(w, r)
	})
	c := probe.New(f.socket)
	defer c.Close()
	// The held call is released only when the test ends: without the
	// timeout, Bench would run into ctx's deadline and fail.
	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", nil, probe.BenchOptions{Calls: 5, Concurrency: 1, Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 1, st.Failures)
	require.Error(t, st.FirstErr)
	assert.ErrorIs(t, st.FirstErr, context.DeadlineExceeded)
	assert.Contains(t, st.FirstErr.Error(), "VolumeDriver.List: no answer within 200ms")
	assert.Len(t, st.Latencies, 4, "the calls after the one that timed out are answered")
	assert.Len(t, f.requests(), 5)
}

func TestBenchCancelled(t *testing.T) {
	f := newFakePlugin(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	c := probe.New(f.socket)
	defer c.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := probe.Bench(cctx, c, "VolumeDriver.List", nil, probe.BenchOptions{Calls: 100, Concurrency: 2, Timeout: time.Minute})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	assert.Contains(t, err.Error(), "repeat VolumeDriver.List")
}

func TestBenchBadCount(t *testing.T) {
	c := probe.New("/nonexistent.sock")
	_, err := probe.Bench(context.Background(), c, "VolumeDriver.List", nil, probe.BenchOptions{Calls: 0})
	require.EqualError(t, err, "repeat count 0: want at least 1")
}

// Calls that end just as the watchdog times them out: each failure is a
// timeout, each success is counted, and -race sees the handover.
func TestBenchTimeoutBoundary(t *testing.T) {
	var n atomic.Int64
	f := newFakePlugin(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(n.Add(1)%12) * time.Millisecond)
		reply(http.StatusOK, `{"Volumes":[],"Err":""}`)(w, r)
	})
	c := probe.New(f.socket)
	defer c.Close()
	st, err := probe.Bench(ctx(t), c, "VolumeDriver.List", nil, probe.BenchOptions{Calls: 300, Concurrency: 4, Timeout: 6 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 300, st.Calls)
	assert.Equal(t, 300, st.Failures+len(st.Latencies))
	if st.Failures > 0 {
		assert.ErrorIs(t, st.FirstErr, context.DeadlineExceeded)
	}
}
