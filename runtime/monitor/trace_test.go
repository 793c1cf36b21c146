package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/observe"
)

// observedMonitor is servedMonitor with a plugin on its socket and the
// recording point in place on it.
func observedMonitor(t *testing.T) (m *monitor, dir, sock string) {
	t.Helper()
	m, dir, sock = servedMonitor(t)
	servePluginAt(t, sock)
	st, err := Observe(testCtx(t), dir, true)
	require.NoError(t, err)
	require.True(t, st.Recording, st.Error)
	return m, dir, sock
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextMessage reads the stream's next message, which must come.
func nextMessage(t *testing.T, s *TraceStream) TraceMessage {
	t.Helper()
	msg, err := s.Next()
	require.NoError(t, err)
	return msg
}

// nextRecord reads the stream's next message, which must be a record.
func nextRecord(t *testing.T, s *TraceStream) types.TraceRecord {
	t.Helper()
	msg := nextMessage(t, s)
	require.NotNil(t, msg.Record, "a record, not %+v", msg)
	return *msg.Record
}

func traces(t *testing.T, dir string) int {
	t.Helper()
	st, err := ObserveState(testCtx(t), dir)
	require.NoError(t, err)
	return st.Traces
}

// TestTraceStream: a trace stream gets the record of each call passing
// the point from its start on, a kept-alive connection opened before it
// included, while the counts stay exact; closing the stream detaches it,
// and the point records nothing more.
func TestTraceStream(t *testing.T) {
	_, dir, sock := observedMonitor(t)
	kept := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer kept.CloseIdleConnections()
	post := func(method, body string) {
		resp, err := kept.Post("http://plugin/"+method, "", strings.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	post("VolumeDriver.List", "{}") // before the trace: counted, not recorded

	s, err := Trace(testCtx(t), dir)
	require.NoError(t, err)
	assert.Equal(t, sock, s.Socket())
	assert.Equal(t, 1, traces(t, dir))
	post("VolumeDriver.Get", `{"Name":"a"}`)
	callAt(t, sock)
	r := nextRecord(t, s)
	assert.Equal(t, "VolumeDriver.Get", r.Method)
	assert.Equal(t, `{"Name":"a"}`, r.Request)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, `{"Err":""}`, r.Response)
	assert.Empty(t, r.Err)
	assert.Positive(t, r.Latency)
	r2 := nextRecord(t, s)
	assert.Equal(t, "VolumeDriver.List", r2.Method)
	assert.NotEqual(t, r.Conn, r2.Conn, "two connections")

	c, err := Calls(testCtx(t), dir)
	require.NoError(t, err)
	counts := map[string]uint64{}
	for _, mc := range c.Methods {
		counts[mc.Method] = mc.Count
	}
	assert.Equal(t, map[string]uint64{"VolumeDriver.List": 2, "VolumeDriver.Get": 1}, counts)

	require.NoError(t, s.Close())
	require.Eventually(t, func() bool { return traces(t, dir) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the monitor lets go of a stream whose connection ended")
}

// TestTraceStreamEnds: the stream ends, after the records queued, with why:
// the point was removed (the plugin's own socket back at its path), or the
// plugin exited.
func TestTraceStreamEnds(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		_, dir, sock := observedMonitor(t)
		s, err := Trace(testCtx(t), dir)
		require.NoError(t, err)
		defer s.Close()
		callAt(t, sock)
		_, err = Observe(testCtx(t), dir, false)
		require.NoError(t, err)
		assert.Equal(t, "VolumeDriver.List", nextRecord(t, s).Method)
		assert.Equal(t, TraceRemoved, nextMessage(t, s).End)
		_, err = s.Next()
		assert.Error(t, err, "nothing after the end")
		assert.NoFileExists(t, observe.AsidePath(sock), "the plugin's socket is back at its path")
		assert.Zero(t, traces(t, dir))
	})
	t.Run("exited", func(t *testing.T) {
		m, dir, _ := observedMonitor(t)
		s, err := Trace(testCtx(t), dir)
		require.NoError(t, err)
		defer s.Close()
		m.obs.end() // as run does once the container has exited
		assert.Equal(t, TraceExited, nextMessage(t, s).End)
	})
}

// TestTraceNeedsThePoint: without a point in place, a trace request is
// refused, and the daemon knows to put a proxy of its own.
func TestTraceNeedsThePoint(t *testing.T) {
	_, dir, sock := servedMonitor(t)
	servePluginAt(t, sock)
	_, err := Trace(testCtx(t), dir)
	assert.ErrorContains(t, err, "the recording point is not in place")
	assert.Zero(t, traces(t, dir))
}

// TestTraceEarlierMonitor: a monitor of an earlier plugdbg closes the
// connection of a request it does not know, with no reply: Trace says so
// with ErrEarlierMonitor, so that the daemon falls back to its own proxy.
func TestTraceEarlierMonitor(t *testing.T) {
	dir, err := os.MkdirTemp("", "mon")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, socketFile))
	require.NoError(t, err)
	defer ln.Close()
	go func() { // what session.go's handle did before it knew "trace"
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var req request
			_ = json.NewDecoder(bufio.NewReader(c)).Decode(&req)
			c.Close()
		}
	}()
	_, err = Trace(testCtx(t), dir)
	assert.ErrorIs(t, err, ErrEarlierMonitor)
}

// TestTraceDaemonGone: a daemon that dies mid-stream, without reading or
// closing anything itself, leaves nothing attached: its connection's end
// ends the stream, and a new stream works.
func TestTraceDaemonGone(t *testing.T) {
	_, dir, sock := observedMonitor(t)
	c, err := net.Dial("unix", filepath.Join(dir, socketFile))
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, `{"op":"trace","version":%d}`+"\n", traceVersion)
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadBytes('\n')
	require.NoError(t, err)
	assert.Contains(t, string(line), `"trace":{"version":1`)
	require.Equal(t, 1, traces(t, dir))
	for range 3 {
		callAt(t, sock) // records queued for a daemon that reads none
	}
	require.NoError(t, c.Close()) // as the kernel does for a killed daemon
	require.Eventually(t, func() bool { return traces(t, dir) == 0 }, 10*time.Second, 10*time.Millisecond)

	s, err := Trace(testCtx(t), dir)
	require.NoError(t, err)
	defer s.Close()
	callAt(t, sock)
	assert.Equal(t, "VolumeDriver.List", nextRecord(t, s).Method, "only the call made during this stream")
}

// TestTraceSubBounds: a stream's queue takes up to maxTraceQueue records
// and maxTraceBytes of bodies; past either, records are counted lost, the
// count standing after the records kept, and the queue takes records
// again once the writer has emptied it.
func TestTraceSubBounds(t *testing.T) {
	tests := []struct {
		name     string
		body     int // bytes of each record's bodies
		n, kept  int
		lostWant uint64
	}{
		{name: "records", body: 10, n: maxTraceQueue + 5, kept: maxTraceQueue, lostWant: 5},
		{name: "bytes", body: 1 << 20, n: 20, kept: maxTraceBytes / (1 << 20), lostWant: 20 - maxTraceBytes/(1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTraceSub()
			for i := range tt.n {
				s.put(types.TraceRecord{Conn: i, Request: strings.Repeat("x", tt.body)})
			}
			recs, lost, end, ok := s.wait()
			require.True(t, ok)
			assert.Len(t, recs, tt.kept)
			assert.Equal(t, tt.lostWant, lost)
			assert.Empty(t, end)
			assert.Equal(t, tt.kept-1, recs[len(recs)-1].Conn, "the first ones kept")

			s.put(types.TraceRecord{Conn: -1})
			s.finish(TraceRemoved)
			s.put(types.TraceRecord{Conn: -2}) // after the end: dropped
			recs, lost, end, ok = s.wait()
			require.True(t, ok)
			require.Len(t, recs, 1)
			assert.Equal(t, -1, recs[0].Conn)
			assert.Zero(t, lost)
			assert.Equal(t, TraceRemoved, end)
			s.close()
			_, _, _, ok = s.wait()
			assert.False(t, ok)
		})
	}
}
