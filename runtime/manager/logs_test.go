package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plugdbg/plugdbg/api/types"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

func TestLogLineAppendJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		line types.LogLine
	}{
		{name: "plain", line: NewLogLine("abc", "p:latest", logs.Entry{Seq: 7, Time: 1700000000123456789, Stream: logs.Stdout, Line: "hello"})},
		{name: "escapes", line: NewLogLine("abc", "p:latest", logs.Entry{Seq: 1, Time: 2, Stream: logs.Stderr, Line: "a\"b\\c\t<&>\u2028\x01"})},
		{name: "invalid utf-8", line: NewLogLine("abc", "p", logs.Entry{Seq: 3, Time: 4, Stream: logs.Stdout, Line: "a\xffb"})},
		{name: "empty partial", line: NewLogLine("abc", "p", logs.Entry{Seq: 5, Time: 6, Stream: logs.Stdout, Partial: true})},
		{name: "marker", line: types.LogLine{Plugin: "abc", Name: "p", Skipped: 42}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.line)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(tt.line.AppendJSON(nil)))
			var back types.LogLine
			require.NoError(t, json.Unmarshal(tt.line.AppendJSON(nil), &back))
			assert.Equal(t, tt.line, back)
		})
	}
	assert.Equal(t, "a\xffb", tests[2].line.Text(), "Text restores the raw bytes")
}

// TestFollowerLagMarksUnstoredLinesAtOnce: a follower that fell behind on
// lines that were never stored (the fake writes no log file, as on a full
// disk) gets one Skipped marker for them as soon as it catches up, not
// only when the plugin writes its next line.
func TestFollowerLagMarksUnstoredLinesAtOnce(t *testing.T) {
	m, x := newTestManager(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	require.NoError(t, m.Enable(ctx, "fake", 5*time.Second))
	x.mu.Lock()
	run := x.runs[id]
	x.mu.Unlock()

	subscribed := make(chan struct{})
	release := make(chan struct{})
	got := make(chan types.LogLine, 1000)
	go func() {
		_ = m.Logs(ctx, "fake", types.LogOptions{Follow: true, Started: func() { close(subscribed) }}, func(l types.LogLine) error {
			<-release // a follower stuck until every line is published
			got <- l
			return nil
		})
	}()
	<-subscribed
	const last = 100 // far more single-line batches than a follower buffers
	for seq := uint64(2); seq <= last; seq++ {
		run.msgs <- monitor.Message{Lines: []logs.Entry{{Seq: seq, Time: time.Now().UnixNano(), Stream: logs.Stdout, Line: fmt.Sprint(seq)}}}
	}
	require.Eventually(t, func() bool { return m.hub.LastSeq(id) == last }, 5*time.Second, time.Millisecond)
	close(release)

	var next uint64 = 2 // the first line after the subscription
	var skipped uint64
	for next <= last {
		select {
		case l := <-got:
			if l.Skipped > 0 {
				skipped += l.Skipped
				next += l.Skipped
				continue
			}
			require.Equal(t, next, l.Seq, "lines in order, none twice")
			next++
		case <-time.After(5 * time.Second):
			require.FailNow(t, "no Skipped marker for the dropped lines", "up to seq %d of %d", next-1, last)
		}
	}
	assert.Greater(t, skipped, uint64(0), "the follower must have lagged")
	assert.Less(t, skipped, uint64(last-1), "what stayed buffered is delivered")
}

// TestHistoryMergesPluginsByTime: the history of several plugins is one
// stream in time order, each plugin's lines in their own order, and a tail
// is the last lines of that stream.
func TestHistoryMergesPluginsByTime(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	lines := map[string][]int64{ // plugin name → times of its lines
		"a": {10, 40, 50, 90},
		"b": {20, 30, 60},
		"c": {},
		"d": {5, 70, 80, 100},
	}
	ids := map[string]string{}
	for name, times := range lines {
		id, err := m.Create(ctx, name, buildContext(t, fakeConfig))
		require.NoError(t, err)
		ids[name] = id
		var buf []byte
		for i, at := range times {
			buf = logs.Entry{Seq: uint64(i + 1), Time: at, Stream: logs.Stdout, Line: fmt.Sprintf("%s%d", name, at)}.AppendJSON(buf)
			buf = append(buf, '\n')
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(m.logPath(id)), 0o700))
		require.NoError(t, os.WriteFile(m.logPath(id), buf, 0o600))
	}
	read := func(tail int) []string {
		var got []string
		require.NoError(t, m.Logs(ctx, "", types.LogOptions{Tail: tail}, func(l types.LogLine) error {
			got = append(got, l.Line)
			return nil
		}))
		return got
	}
	all := []string{"d5", "a10", "b20", "b30", "a40", "a50", "b60", "d70", "d80", "a90", "d100"}
	assert.Equal(t, all, read(0))
	assert.Equal(t, all[len(all)-3:], read(3))
	assert.Equal(t, all, read(100))
	assert.Empty(t, read(-1))
}

func TestSetLogOpts(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	id, err := m.Create(ctx, "fake", buildContext(t, fakeConfig))
	require.NoError(t, err)
	opts := func() map[string]string {
		p, err := m.Inspect("fake")
		require.NoError(t, err)
		return p.LogConfig.Config
	}
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "5"}, opts())

	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-size": "1m"}))
	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-file": "2"}))
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, opts(), "merged")

	for _, bad := range []map[string]string{{"max-size": "x"}, {"max-file": "-3"}, {"color": "red"}, {}} {
		err := m.SetLogOpts("fake", bad)
		assert.True(t, errdefs.IsInvalidArgument(err), "%v: %v", bad, err)
	}
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, opts(), "refused opts change nothing")
	stored, err := m.store.Opts(id)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, stored.LogOpts)

	require.NoError(t, m.SetLogOpts("fake", map[string]string{"max-size": ""}))
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "2"}, opts(), "an empty value restores the default")
	assert.True(t, errdefs.IsNotFound(m.SetLogOpts("nope", map[string]string{"max-file": "2"})))
}

// TestHistoryPagesBeforeALine: pages of history before a line, as a viewer
// scrolling up asks for them, cover every line once even where many lines
// share a time, for one plugin and merged.
func TestHistoryPagesBeforeALine(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	times := map[string][]int64{ // many lines at time 50
		"a": {10, 50, 50, 50, 50, 50, 60},
		"b": {20, 50, 50, 70},
	}
	for name, ts := range times {
		id, err := m.Create(ctx, name, buildContext(t, fakeConfig))
		require.NoError(t, err)
		var buf []byte
		for i, at := range ts {
			buf = logs.Entry{Seq: uint64(i + 1), Time: at, Stream: logs.Stdout, Line: fmt.Sprintf("%s%d", name, i+1)}.AppendJSON(buf)
			buf = append(buf, '\n')
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(m.logPath(id)), 0o700))
		require.NoError(t, os.WriteFile(m.logPath(id), buf, 0o600))
	}
	page := func(ref string, before *types.LogPosition, n int) []types.LogLine {
		var got []types.LogLine
		require.NoError(t, m.Logs(ctx, ref, types.LogOptions{Tail: n, Before: before}, func(l types.LogLine) error {
			got = append(got, l)
			return nil
		}))
		return got
	}
	for _, ref := range []string{"a", ""} {
		all := page(ref, nil, 0)
		// Scroll up from the end, two lines a page.
		held := all[len(all)-2:]
		for len(held) < len(all) {
			first := held[0]
			older := page(ref, &types.LogPosition{Time: first.Time, Plugin: first.Plugin, Seq: first.Seq}, 2)
			require.NotEmpty(t, older, "%q: a page before %s", ref, first.Line)
			held = append(older, held...)
		}
		var want, got []string
		for i := range all {
			want, got = append(want, all[i].Line), append(got, held[i].Line)
		}
		assert.Equal(t, want, got, "%q: the pages put together are the history", ref)
		assert.Empty(t, page(ref, &types.LogPosition{Time: all[0].Time, Plugin: all[0].Plugin, Seq: all[0].Seq}, 2), "nothing before the first line")
	}
}
