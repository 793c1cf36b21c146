package manager

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/logs/follow"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

func TestLogTargets(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	a, err := m.Create(ctx, "a", buildContext(t, fakeConfig))
	require.NoError(t, err)
	b, err := m.Create(ctx, "b", buildContext(t, fakeConfig))
	require.NoError(t, err)

	want := follow.Target{ID: a, Name: "a:latest", Path: m.logPath(a)}
	for _, ref := range []string{"a", "a:latest", a, a[:12]} {
		got, err := m.LogTarget(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	_, err = m.LogTarget("nope")
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	_, err = m.LogTarget("")
	assert.True(t, errdefs.IsNotFound(err), "%v", err)
	assert.ElementsMatch(t, []follow.Target{want, {ID: b, Name: "b:latest", Path: m.logPath(b)}}, m.LogTargets())
}

// TestFollowerGetsTheRunsLines: the lines a run's monitor hands the
// manager reach a follower through the hub the manager was given.
func TestFollowerGetsTheRunsLines(t *testing.T) {
	m, x := newTestManager(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	x.mu.Lock()
	run := x.runs[id]
	x.mu.Unlock()

	f := follow.New(m, m.hub)
	subscribed := make(chan struct{})
	got := make(chan types.LogLine, 16)
	go func() {
		_ = f.Logs(ctx, "fake", types.LogOptions{Follow: true, Tail: -1, Started: func() { close(subscribed) }}, func(l types.LogLine) error {
			got <- l
			return nil
		})
	}()
	<-subscribed
	run.msgs <- monitor.Message{Lines: []logs.Entry{{Seq: 2, Time: 7, Stream: logs.Stderr, Line: "hello"}}}
	select {
	case l := <-got:
		assert.Equal(t, types.LogLine{Plugin: id, Name: "fake:latest", Seq: 2, Time: 7, Stream: logs.Stderr, Line: "hello"}, l)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the follower got no line")
	}
}
