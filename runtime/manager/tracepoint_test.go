package manager

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// tracingExecutor is the observing fake whose real recording points
// stream their records as a monitor does (TracePoint); the test adds what
// only a monitor would send (Lost), and removing a point ends its streams
// as a monitor's does.
type tracingExecutor struct {
	*observingExecutor
	refuse error // TracePoint's answer, if set

	tmu     sync.Mutex
	streams []*fakeStream
}

type fakeStream struct {
	msgs   chan monitor.TraceMessage
	closed chan struct{}
	once   sync.Once
}

func (s *fakeStream) Next() (monitor.TraceMessage, error) {
	select {
	case m := <-s.msgs:
		return m, nil
	case <-s.closed:
		return monitor.TraceMessage{}, net.ErrClosed
	}
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (x *tracingExecutor) TracePoint(_ context.Context, id string) (PointTrace, error) {
	if x.refuse != nil {
		return nil, x.refuse
	}
	x.mu.Lock()
	fp := x.points[id]
	x.mu.Unlock()
	if fp == nil || fp.point == nil {
		return nil, fmt.Errorf("monitor: trace: the recording point is not in place")
	}
	s := &fakeStream{msgs: make(chan monitor.TraceMessage, 64), closed: make(chan struct{})}
	fp.point.Trace(func(r types.TraceRecord) { s.msgs <- monitor.TraceMessage{Record: &r} })
	x.tmu.Lock()
	x.streams = append(x.streams, s)
	x.tmu.Unlock()
	return s, nil
}

func (x *tracingExecutor) Observe(ctx context.Context, id string, on bool) (monitor.ObserveStatus, error) {
	st, err := x.observingExecutor.Observe(ctx, id, on)
	if !on {
		x.tmu.Lock()
		for _, s := range x.streams {
			s.msgs <- monitor.TraceMessage{End: monitor.TraceRemoved}
		}
		x.streams = nil
		x.tmu.Unlock()
	}
	return st, err
}

func (x *tracingExecutor) stream(t *testing.T) *fakeStream {
	t.Helper()
	x.tmu.Lock()
	defer x.tmu.Unlock()
	require.NotEmpty(t, x.streams, "the trace reads the point")
	return x.streams[len(x.streams)-1]
}

// tracedFake enables plugin "fake", observed, under x, and traces it;
// it returns the plugin's socket, the trace's start lines and records, and
// a stop that ends the trace.
func tracedFake(t *testing.T, m *Manager) (sock string, starts chan string, recs chan types.TraceRecord, stop func()) {
	t.Helper()
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.SetObserve(ctx, "fake", true))
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	p, err := m.Inspect(id)
	require.NoError(t, err)
	require.True(t, p.State.Recording)
	starts, recs = make(chan string, 4), make(chan types.TraceRecord, 64)
	traceCtx, cancel := context.WithCancel(ctx)
	ended := make(chan error, 1)
	go func() {
		ended <- m.Trace(traceCtx, "fake", func(s string) { starts <- s }, func(r types.TraceRecord) error {
			recs <- r
			return nil
		})
	}()
	stop = func() {
		cancel()
		require.NoError(t, <-ended)
	}
	t.Cleanup(cancel)
	require.Equal(t, p.State.Socket, nextStart(t, starts))
	return p.State.Socket, starts, recs, stop
}

func nextStart(t *testing.T, starts chan string) string {
	t.Helper()
	select {
	case s := <-starts:
		return s
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the trace never said it was in place")
	}
	return ""
}

func nextRec(t *testing.T, recs chan types.TraceRecord) types.TraceRecord {
	t.Helper()
	select {
	case r := <-recs:
		return r
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no record")
	}
	return types.TraceRecord{}
}

// TestTraceReadsPoint: the trace of an observed plugin reads its point's
// records, with nothing moved on the socket; the monitor's lost records
// are told; observe --off during the trace puts a proxy of the trace's
// own in the point's place, with a record saying why and a new start, and
// the calls go on being recorded; the end puts the socket back.
func TestTraceReadsPoint(t *testing.T) {
	m, ox := newObservingManager(t, false)
	x := &tracingExecutor{observingExecutor: ox}
	m.opts.Executor = x
	sock, starts, recs, stop := tracedFake(t, m)
	pointIno := socketIno(t, sock)
	assert.NoFileExists(t, tracer.AsidePath(sock), "no proxy of the trace's own")

	callFake(t, sock, "VolumeDriver.List")
	assert.Equal(t, "VolumeDriver.List", nextRec(t, recs).Method)
	x.stream(t).msgs <- monitor.TraceMessage{Lost: 3}
	assert.Equal(t, "trace: 3 records lost by the plugin's monitor: the daemon read them too slowly", nextRec(t, recs).Err)
	assert.Equal(t, pointIno, socketIno(t, sock))

	require.NoError(t, m.SetObserve(context.Background(), "fake", false))
	r := nextRec(t, recs)
	assert.Empty(t, r.Method)
	assert.Contains(t, r.Err, "the recording point was removed (observe --off)")
	require.Equal(t, sock, nextStart(t, starts))
	assert.FileExists(t, tracer.AsidePath(sock), "the trace's own proxy has the path")
	callFake(t, sock, "VolumeDriver.Get")
	assert.Equal(t, "VolumeDriver.Get", nextRec(t, recs).Method)

	stop()
	assert.NoFileExists(t, tracer.AsidePath(sock))
	callFake(t, sock, "VolumeDriver.List")
	assert.Empty(t, recs)
}

// TestTraceStacksWhenPointCannotStream: a monitor of an earlier plugdbg
// cannot stream: the trace puts its own proxy on top of the point, both
// see every call.
func TestTraceStacksWhenPointCannotStream(t *testing.T) {
	m, ox := newObservingManager(t, false)
	x := &tracingExecutor{observingExecutor: ox, refuse: fmt.Errorf("monitor: no answer to trace: %w", monitor.ErrEarlierMonitor)}
	m.opts.Executor = x
	sock, _, recs, stop := tracedFake(t, m)
	assert.FileExists(t, tracer.AsidePath(sock), "a proxy of the trace's own")
	callFake(t, sock, "VolumeDriver.List")
	assert.Equal(t, "VolumeDriver.List", nextRec(t, recs).Method)
	c, err := m.Calls(context.Background(), "fake")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), methodCount(c, "VolumeDriver.List"), "the point under the proxy counts the call")
	stop()
	_, err = os.Lstat(tracer.AsidePath(sock))
	assert.True(t, os.IsNotExist(err))
}

// TestTraceFollowsPointAcrossRestart: a plugin whose point is traced
// restarts; the trace reads the new run's point.
func TestTraceFollowsPointAcrossRestart(t *testing.T) {
	m, ox := newObservingManager(t, false)
	x := &tracingExecutor{observingExecutor: ox}
	m.opts.Executor = x
	sock, starts, recs, stop := tracedFake(t, m)
	first := x.stream(t)
	p, err := m.Inspect("fake")
	require.NoError(t, err)
	x.crash(p.ID, 1)
	first.msgs <- monitor.TraceMessage{End: monitor.TraceExited} // as the monitor says when the plugin exits
	require.Equal(t, sock, nextStart(t, starts))
	assert.NotSame(t, first, x.stream(t), "a stream from the new run's point")
	assert.NoFileExists(t, tracer.AsidePath(sock))
	callFake(t, sock, "VolumeDriver.List")
	assert.Equal(t, "VolumeDriver.List", nextRec(t, recs).Method)
	stop()
}
