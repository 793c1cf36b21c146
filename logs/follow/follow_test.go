package follow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

var errNoPlugin = errors.New("no such plugin")

// fakePlugins is the runtime as a Follower sees it: plugins and the paths
// of their log files, in a temporary directory.
type fakePlugins struct {
	dir string
	mu  sync.Mutex
	all map[string]Target // by name
}

func newFakePlugins(t *testing.T) *fakePlugins {
	return &fakePlugins{dir: t.TempDir(), all: map[string]Target{}}
}

// add makes a plugin with the log lines es and returns its ID: its name
// with a prefix, so that IDs sort as names do.
func (p *fakePlugins) add(t *testing.T, name string, es ...logs.Entry) string {
	t.Helper()
	id := "id-" + name
	path := filepath.Join(p.dir, id, "plugin.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	var buf []byte
	for _, e := range es {
		buf = append(e.AppendJSON(buf), '\n')
	}
	require.NoError(t, os.WriteFile(path, buf, 0o600))
	p.mu.Lock()
	p.all[name] = Target{ID: id, Name: name, Path: path}
	p.mu.Unlock()
	return id
}

func (p *fakePlugins) LogTarget(ref string) (Target, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.all {
		if t.ID == ref || t.Name == ref {
			return t, nil
		}
	}
	return Target{}, errNoPlugin
}

func (p *fakePlugins) LogTargets() []Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Target
	for _, t := range p.all {
		out = append(out, t)
	}
	return out
}

func line(seq uint64, at int64, text string) logs.Entry {
	return logs.Entry{Seq: seq, Time: at, Stream: logs.Stdout, Line: text}
}

// collect runs a Logs that does not follow and returns what it sent.
func collect(t *testing.T, f *Follower, ref string, o types.LogOptions) []types.LogLine {
	t.Helper()
	var got []types.LogLine
	require.NoError(t, f.Logs(context.Background(), ref, o, func(l types.LogLine) error {
		got = append(got, copied(o, l))
		return nil
	}))
	return got
}

// copied is l as a send kept by the test may keep it: with o.SendCopies,
// its strings copied (they may be the history reader's buffer).
func copied(o types.LogOptions, l types.LogLine) types.LogLine {
	if o.SendCopies {
		l.Line, l.LineB64, l.Record = strings.Clone(l.Line), strings.Clone(l.LineB64), strings.Clone(l.Record)
	}
	return l
}

func texts(ls []types.LogLine) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Text())
	}
	return out
}

// following starts a follow of ref in the background, subscribed when it
// returns; its lines arrive on the channel.
func following(t *testing.T, f *Follower, ref string, o types.LogOptions) <-chan types.LogLine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan types.LogLine, 1000)
	subscribed := make(chan struct{})
	done := make(chan struct{})
	o.Follow = true
	o.Started = func() { close(subscribed) }
	go func() {
		defer close(done)
		assert.NoError(t, f.Logs(ctx, ref, o, func(l types.LogLine) error {
			got <- l
			return nil
		}))
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-subscribed
	return got
}

// next returns the next line a follower sends.
func next(t *testing.T, got <-chan types.LogLine) types.LogLine {
	t.Helper()
	select {
	case l := <-got:
		return l
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no line")
		return types.LogLine{}
	}
}

func TestUnknownPluginIsTheRuntimesError(t *testing.T) {
	f := New(newFakePlugins(t), new(logs.Hub))
	err := f.Logs(context.Background(), "nope", types.LogOptions{}, func(types.LogLine) error { return nil })
	assert.ErrorIs(t, err, errNoPlugin)
}

func TestWireLineKeepsBytesThatAreNotUTF8(t *testing.T) {
	l := wireLine(&Target{ID: "abc", Name: "p"}, logs.Entry{Seq: 3, Time: 4, Stream: logs.Stdout, Line: "a\xffb", Partial: true})
	assert.Equal(t, types.LogLine{Plugin: "abc", Name: "p", Seq: 3, Time: 4, Stream: logs.Stdout, LineB64: "Yf9i", Partial: true}, l)
	assert.Equal(t, "a\xffb", l.Text())
}

// TestHistoryMergesPluginsByTime: the history of several plugins is one
// stream in time order, each plugin's lines in their own order, and a tail
// is the last lines of that stream.
func TestHistoryMergesPluginsByTime(t *testing.T) {
	p := newFakePlugins(t)
	lines := map[string][]int64{ // plugin name → times of its lines
		"a": {10, 40, 50, 90},
		"b": {20, 30, 60},
		"c": {},
		"d": {5, 70, 80, 100},
	}
	for name, times := range lines {
		var es []logs.Entry
		for i, at := range times {
			es = append(es, line(uint64(i+1), at, fmt.Sprintf("%s%d", name, at)))
		}
		p.add(t, name, es...)
	}
	f := New(p, new(logs.Hub))
	read := func(tail int) []string { return texts(collect(t, f, "", types.LogOptions{Tail: tail})) }
	all := []string{"d5", "a10", "b20", "b30", "a40", "a50", "b60", "d70", "d80", "a90", "d100"}
	assert.Equal(t, all, read(0))
	assert.Equal(t, all[len(all)-3:], read(3))
	assert.Equal(t, all, read(100))
	assert.Empty(t, read(-1))
}

// TestHistoryOrdersEqualTimesByPluginThenSeq: lines at one time come in
// plugin ID order, each plugin's in seq order.
func TestHistoryOrdersEqualTimesByPluginThenSeq(t *testing.T) {
	p := newFakePlugins(t)
	p.add(t, "b", line(1, 5, "b1"), line(2, 5, "b2"))
	p.add(t, "a", line(1, 5, "a1"), line(2, 5, "a2"))
	got := collect(t, New(p, new(logs.Hub)), "", types.LogOptions{})
	assert.Equal(t, []string{"a1", "a2", "b1", "b2"}, texts(got))
	assert.Equal(t, "id-a", got[0].Plugin)
	assert.Equal(t, "a", got[0].Name)
}

// TestHistoryFilters: Since, Until, Stream and Grep select the lines of
// the history, Tail counts only the lines that match.
func TestHistoryFilters(t *testing.T) {
	p := newFakePlugins(t)
	err := logs.Entry{Seq: 3, Time: 30, Stream: logs.Stderr, Line: "err 30"}
	p.add(t, "a", line(1, 10, "out 10"), line(2, 20, "out 20"), err, line(4, 40, "out 40"))
	p.add(t, "b", line(1, 15, "out 15"), line(2, 35, "x 35"))
	f := New(p, new(logs.Hub))
	tests := []struct {
		name string
		ref  string
		o    types.LogOptions
		want []string
	}{
		{name: "since", ref: "a", o: types.LogOptions{Since: time.Unix(0, 20)}, want: []string{"out 20", "err 30", "out 40"}},
		{name: "until", ref: "", o: types.LogOptions{Until: time.Unix(0, 20)}, want: []string{"out 10", "out 15"}},
		{name: "stream", ref: "", o: types.LogOptions{Stream: logs.Stderr}, want: []string{"err 30"}},
		{name: "grep", ref: "", o: types.LogOptions{Grep: regexp.MustCompile(`^out`)}, want: []string{"out 10", "out 15", "out 20", "out 40"}},
		{name: "grep and tail", ref: "", o: types.LogOptions{Grep: regexp.MustCompile(`^out`), Tail: 2}, want: []string{"out 20", "out 40"}},
		{name: "tail of one", ref: "b", o: types.LogOptions{Tail: 1}, want: []string{"x 35"}},
	}
	for _, tt := range tests {
		for _, sendCopies := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s send copies %v", tt.name, sendCopies), func(t *testing.T) {
				o := tt.o
				o.SendCopies = sendCopies
				assert.Equal(t, tt.want, texts(collect(t, f, tt.ref, o)))
			})
		}
	}
}

// TestHistoryPagesBeforeALine: pages of history before a line, as a viewer
// scrolling up asks for them, cover every line once even where many lines
// share a time, for one plugin and merged.
func TestHistoryPagesBeforeALine(t *testing.T) {
	p := newFakePlugins(t)
	times := map[string][]int64{ // many lines at time 50
		"a": {10, 50, 50, 50, 50, 50, 60},
		"b": {20, 50, 50, 70},
	}
	for name, ts := range times {
		var es []logs.Entry
		for i, at := range ts {
			es = append(es, line(uint64(i+1), at, fmt.Sprintf("%s%d", name, i+1)))
		}
		p.add(t, name, es...)
	}
	f := New(p, new(logs.Hub))
	page := func(ref string, before *types.LogPosition, n int) []types.LogLine {
		return collect(t, f, ref, types.LogOptions{Tail: n, Before: before})
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
		assert.Equal(t, texts(all), texts(held), "%q: the pages put together are the history", ref)
		assert.Empty(t, page(ref, &types.LogPosition{Time: all[0].Time, Plugin: all[0].Plugin, Seq: all[0].Seq}, 2), "nothing before the first line")
	}
}

// TestFollowJoinsHistoryWithoutGapOrRepeat: lines published while the
// history is read, some of them in it too, reach the follower once each,
// in order.
func TestFollowJoinsHistoryWithoutGapOrRepeat(t *testing.T) {
	p := newFakePlugins(t)
	id := p.add(t, "a", line(1, 10, "one"), line(2, 20, "two"))
	hub := new(logs.Hub)
	f := New(p, hub)
	got := following(t, f, "a", types.LogOptions{})
	// Published after the subscription: the second line was also read from
	// the file, as with a line stored and published while the follower
	// opened the history.
	hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{line(2, 20, "two"), line(3, 30, "three")}})
	hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{line(4, 40, "four")}})
	var seen []string
	for range 4 {
		seen = append(seen, next(t, got).Line)
	}
	assert.Equal(t, []string{"one", "two", "three", "four"}, seen)
}

// TestFollowWithoutHistoryMissesNothingAfterStarted: with Tail < 0 (only
// what follows), a line stored and published between Started and the
// follower's look at the history still reaches it, live.
func TestFollowWithoutHistoryMissesNothingAfterStarted(t *testing.T) {
	p := newFakePlugins(t)
	id := p.add(t, "a", line(1, 10, "old"))
	hub := new(logs.Hub)
	hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{line(1, 10, "old")}})
	f := New(p, hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan types.LogLine, 10)
	done := make(chan error, 1)
	go func() {
		done <- f.Logs(ctx, "a", types.LogOptions{Follow: true, Tail: -1, Started: func() {
			// Written now: stored first, as the monitor does, then published.
			f, err := os.OpenFile(p.all["a"].Path, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.Write(append(line(2, 20, "new").AppendJSON(nil), '\n'))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{line(2, 20, "new")}})
		}}, func(l types.LogLine) error {
			got <- l
			return nil
		})
	}()
	assert.Equal(t, "new", next(t, got).Line, "no history, then the line written after Started")
	cancel()
	require.NoError(t, <-done)
}

// TestFollowFiltersMakeNoGap: a line the filter drops still counts, so the
// next one that matches comes without a Skipped marker.
func TestFollowFiltersMakeNoGap(t *testing.T) {
	p := newFakePlugins(t)
	id := p.add(t, "a")
	hub := new(logs.Hub)
	got := following(t, New(p, hub), "a", types.LogOptions{Stream: logs.Stdout, Grep: regexp.MustCompile("keep")})
	hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{
		line(1, 10, "keep 1"),
		{Seq: 2, Time: 20, Stream: logs.Stderr, Line: "keep 2"},
		line(3, 30, "drop 3"),
		line(4, 40, "keep 4"),
	}})
	assert.Equal(t, "keep 1", next(t, got).Line)
	l := next(t, got)
	assert.Zero(t, l.Skipped)
	assert.Equal(t, "keep 4", l.Line)
}

// TestFollowAllTakesInPluginsCreatedLater: following every plugin, the
// lines of a plugin created after the follow began arrive, with its name.
func TestFollowAllTakesInPluginsCreatedLater(t *testing.T) {
	p := newFakePlugins(t)
	a := p.add(t, "a", line(1, 10, "a1"))
	hub := new(logs.Hub)
	got := following(t, New(p, hub), "", types.LogOptions{})
	assert.Equal(t, "a1", next(t, got).Line)
	b := p.add(t, "b")
	hub.Publish(logs.Batch{Plugin: b, Entries: []logs.Entry{line(1, 20, "b1")}})
	hub.Publish(logs.Batch{Plugin: "gone", Entries: []logs.Entry{line(1, 25, "of a plugin removed meanwhile")}})
	hub.Publish(logs.Batch{Plugin: a, Entries: []logs.Entry{line(2, 30, "a2")}})
	l := next(t, got)
	assert.Equal(t, types.LogLine{Plugin: b, Name: "b", Seq: 1, Time: 20, Stream: logs.Stdout, Line: "b1"}, l)
	assert.Equal(t, "a2", next(t, got).Line)
}

// TestFollowUntilEnds: a follow with Until ends then, and sends only the
// lines before it.
func TestFollowUntilEnds(t *testing.T) {
	p := newFakePlugins(t)
	p.add(t, "a", line(1, 10, "old"), line(2, time.Now().Add(time.Hour).UnixNano(), "later"))
	var got []string
	err := New(p, new(logs.Hub)).Logs(context.Background(), "a", types.LogOptions{Follow: true, Until: time.Now().Add(50 * time.Millisecond)}, func(l types.LogLine) error {
		got = append(got, l.Line)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, got)
}

// TestLaggingFollowerCatchesUpFromDisk: a follower that fell behind gets
// the lines it missed from the history, in order and without a marker,
// when the history has them.
func TestLaggingFollowerCatchesUpFromDisk(t *testing.T) {
	for _, sendCopies := range []bool{false, true} {
		t.Run(fmt.Sprintf("send copies %v", sendCopies), func(t *testing.T) { testLaggingFollowerCatchesUpFromDisk(t, sendCopies) })
	}
}

func testLaggingFollowerCatchesUpFromDisk(t *testing.T, sendCopies bool) {
	p := newFakePlugins(t)
	id := p.add(t, "a")
	target, err := p.LogTarget("a")
	require.NoError(t, err)
	hub := new(logs.Hub)
	release := make(chan struct{})
	got := make(chan types.LogLine, 1000)
	subscribed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		o := types.LogOptions{Follow: true, Started: func() { close(subscribed) }, SendCopies: sendCopies}
		_ = New(p, hub).Logs(ctx, "a", o, func(l types.LogLine) error {
			<-release
			got <- copied(o, l)
			return nil
		})
	}()
	<-subscribed
	const last = 100 // far more single-line batches than a follower buffers
	w, err := os.OpenFile(target.Path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	for seq := uint64(1); seq <= last; seq++ {
		e := line(seq, int64(seq), fmt.Sprint(seq))
		_, err := w.Write(append(e.AppendJSON(nil), '\n')) // stored, as the monitor does, before it is published
		require.NoError(t, err)
		hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{e}})
	}
	require.NoError(t, w.Close())
	// As when the queue passed its budget: the follower resyncs from disk.
	hub.MarkLagged(id)
	close(release)
	fromDisk := 0
	for seq := uint64(1); seq <= last; seq++ {
		l := next(t, got)
		require.Zero(t, l.Skipped, "at %d", seq)
		require.Equal(t, seq, l.Seq, "lines in order, none twice")
		require.Equal(t, fmt.Sprint(seq), l.Line)
		if l.Record != "" { // read from the file: its record goes out as it is
			require.Equal(t, string(line(seq, int64(seq), fmt.Sprint(seq)).AppendJSON(nil)), l.Record)
			fromDisk++
		}
	}
	assert.Positive(t, fromDisk, "the follower caught up from the file")
}

// TestFollowerLagMarksUnstoredLinesAtOnce: a follower that fell behind on
// lines that were never stored (no log file, as on a full disk) gets one
// Skipped marker for them as soon as it catches up, not only when the
// plugin writes its next line.
func TestFollowerLagMarksUnstoredLinesAtOnce(t *testing.T) {
	p := newFakePlugins(t)
	id := p.add(t, "a")
	target, err := p.LogTarget("a")
	require.NoError(t, err)
	require.NoError(t, os.Remove(target.Path))
	hub := new(logs.Hub)
	subscribed := make(chan struct{})
	release := make(chan struct{})
	got := make(chan types.LogLine, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = New(p, hub).Logs(ctx, "a", types.LogOptions{Follow: true, Started: func() { close(subscribed) }}, func(l types.LogLine) error {
			<-release // a follower stuck until every line is published
			got <- l
			return nil
		})
	}()
	<-subscribed
	// Single-line batches of 64 KiB: last of them are far more bytes than
	// a follower may fall behind by.
	const last = 3 * followBudget / (64 << 10)
	text := strings.Repeat("x", 64<<10)
	for seq := uint64(1); seq <= last; seq++ {
		hub.Publish(logs.Batch{Plugin: id, Entries: []logs.Entry{line(seq, time.Now().UnixNano(), text)}})
	}
	close(release)

	var want uint64 = 1
	var skipped uint64
	for want <= last {
		l := next(t, got)
		if l.Skipped > 0 {
			skipped += l.Skipped
			want += l.Skipped
			continue
		}
		require.Equal(t, want, l.Seq, "lines in order, none twice")
		want++
	}
	assert.Greater(t, skipped, uint64(0), "the follower must have lagged")
	assert.Less(t, skipped, uint64(last-1), "what stayed buffered is delivered")
}
