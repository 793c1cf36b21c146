package logs

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func batch(plugin string, seqs ...uint64) Batch {
	b := Batch{Plugin: plugin}
	for _, s := range seqs {
		b.Entries = append(b.Entries, Entry{Seq: s, Stream: Stdout, Line: fmt.Sprint(s)})
	}
	return b
}

// take returns what s has queued, failing if Ready did not say so.
func take(t *testing.T, s *Sub) []Batch {
	t.Helper()
	select {
	case <-s.Ready():
	default:
		t.Fatal("nothing is ready")
	}
	b, _ := s.Take(nil)
	return b
}

// size is what a batch of n lines of one byte costs a follower's budget.
func size(n int) int { return n * (1 + entryOverhead) }

func TestHubRoutesByPlugin(t *testing.T) {
	var h Hub
	a := h.Subscribe("a", 1<<20)
	all := h.Subscribe("", 1<<20)
	h.Publish(batch("a", 1, 2))
	h.Publish(batch("b", 1))
	h.Publish(Batch{Plugin: "a"}) // empty: not delivered

	assert.Equal(t, []Batch{batch("a", 1, 2)}, take(t, a))
	got := take(t, all)
	require.Len(t, got, 2)
	assert.Equal(t, "a", got[0].Plugin)
	assert.Equal(t, "b", got[1].Plugin)
	select {
	case <-a.Ready():
		t.Fatal("ready with nothing queued")
	default:
	}

	h.Publish(batch("a", 3))
	h.Unsubscribe(a)
	for range a.Ready() { // the pending wake-up, then closed
	}
	b, open := a.Take(nil)
	assert.Equal(t, []Batch{batch("a", 3)}, b, "what was queued outlives Unsubscribe")
	assert.True(t, open, "open until the queue is taken")
	_, open = a.Take(nil)
	assert.False(t, open)
	h.Unsubscribe(a) // twice is harmless
	h.Publish(batch("a", 4))
	assert.Len(t, take(t, all), 2)
}

// TestHubBudgetIsBytesNotBatches: a follower may fall behind by its budget
// of line bytes, however the lines are cut in batches; past it, batches
// are dropped and it is marked lagging, and nobody waits for it.
func TestHubBudgetIsBytesNotBatches(t *testing.T) {
	var h Hub
	slow := h.Subscribe("p", size(5))
	fast := h.Subscribe("p", size(100))
	for i := uint64(1); i <= 4; i++ {
		h.Publish(batch("p", i)) // one line a batch
	}
	h.Publish(batch("p", 5, 6)) // passes slow's budget by one line
	h.Publish(batch("p", 7))    // fits again
	h.Publish(batch("p", 8))    // must not block
	assert.True(t, slow.Lagged())
	assert.False(t, slow.Lagged(), "Lagged clears the mark")
	got := take(t, slow)
	var seqs []uint64
	for _, b := range got {
		seqs = append(seqs, b.Entries[0].Seq)
	}
	assert.Equal(t, []uint64{1, 2, 3, 4, 7}, seqs, "in order; 5-6 dropped, 8 over the budget")
	assert.Len(t, take(t, fast), 7)
	assert.False(t, fast.Lagged())

	// Taking frees the budget: slow's queue was full.
	h.Publish(batch("p", 9))
	assert.Len(t, take(t, slow), 1)
	assert.False(t, slow.Lagged())
}

func TestHubLastSeq(t *testing.T) {
	var h Hub
	assert.Zero(t, h.LastSeq("p"))
	h.Publish(batch("p", 1, 2, 3))
	h.Publish(batch("q", 7))
	h.Publish(Batch{Plugin: "p"}) // empty: nothing published
	assert.Equal(t, uint64(3), h.LastSeq("p"))
	assert.Equal(t, uint64(7), h.LastSeq("q"))
	h.Forget("p")
	assert.Zero(t, h.LastSeq("p"))
	assert.Equal(t, uint64(7), h.LastSeq("q"))
}

// TestHubCounts: the hub counts each plugin's lines and bytes by stream, a
// line cut in pieces once, and forgets them with the plugin.
func TestHubCounts(t *testing.T) {
	var h Hub
	assert.Empty(t, h.Counts())
	h.Publish(Batch{Plugin: "p", Entries: []Entry{
		{Seq: 1, Stream: Stdout, Line: "hello"},
		{Seq: 2, Stream: Stderr, Line: "oops"},
		{Seq: 3, Stream: Stdout, Line: "abc", Partial: true}, // one line in two pieces
		{Seq: 4, Stream: Stdout, Line: "de"},
	}})
	h.Publish(Batch{Plugin: "q", Entries: []Entry{{Seq: 1, Stream: Stderr, Line: ""}}})
	h.Publish(Batch{Plugin: "p"}) // empty: nothing counted
	assert.Equal(t, map[string]LineCounts{
		"p": {StdoutLines: 2, StdoutBytes: 10, StderrLines: 1, StderrBytes: 4},
		"q": {StderrLines: 1},
	}, h.Counts())
	h.Forget("p")
	assert.Equal(t, map[string]LineCounts{"q": {StderrLines: 1}}, h.Counts())
}

// TestHubFollowers counts the followers of each plugin and of all of them.
func TestHubFollowers(t *testing.T) {
	var h Hub
	by, all := h.Followers()
	assert.Empty(t, by)
	assert.Zero(t, all)
	a1, a2, b, every := h.Subscribe("a", 1), h.Subscribe("a", 1), h.Subscribe("b", 1), h.Subscribe("", 1)

	by, all = h.Followers()
	assert.Equal(t, map[string]int{"a": 2, "b": 1}, by)
	assert.Equal(t, 1, all)
	for _, s := range []*Sub{a1, a2, b, every} {
		h.Unsubscribe(s)
	}
	by, all = h.Followers()
	assert.Empty(t, by)
	assert.Zero(t, all)
}

func TestHubConcurrent(t *testing.T) {
	var h Hub
	var wg sync.WaitGroup
	subs := make([]*Sub, 8)
	for i := range subs {
		subs[i] = h.Subscribe("", size(1000))
	}
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); i <= 200; i++ {
				h.Publish(batch(fmt.Sprint(p), i))
			}
		}()
	}
	wg.Add(1)
	go func() { // followers come and go meanwhile
		defer wg.Done()
		for range 100 {
			h.Unsubscribe(h.Subscribe("1", 1))
		}
	}()
	wg.Wait()
	counts := h.Counts()
	for p := range 4 {
		assert.Equal(t, uint64(200), counts[fmt.Sprint(p)].StdoutLines, "plugin %d", p)
	}
	for _, s := range subs {
		last := map[string]uint64{}
		batches, _ := s.Take(nil)
		for _, b := range batches {
			assert.Equal(t, last[b.Plugin]+1, b.Entries[0].Seq, "per-plugin order")
			last[b.Plugin] = b.Entries[0].Seq
		}
		assert.Len(t, last, 4)
	}
}

func BenchmarkHubPublish(b *testing.B) {
	for _, followers := range []int{1, 8} {
		b.Run(fmt.Sprintf("followers=%d", followers), func(b *testing.B) {
			var h Hub
			var wg sync.WaitGroup
			for range followers {
				s := h.Subscribe("p", 8<<20)
				wg.Add(1)
				go func() {
					defer wg.Done()
					var taken []Batch
					for range s.Ready() {
						taken, _ = s.Take(taken[:0])
					}
				}()
			}
			bt := batch("p", 1)
			for range 99 {
				bt.Entries = append(bt.Entries, bt.Entries[0])
			}
			b.ResetTimer()
			for range b.N {
				h.Publish(bt)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(bt.Entries))/b.Elapsed().Seconds(), "lines/s")
			for s := range h.subs {
				h.Unsubscribe(s)
			}
			wg.Wait()
		})
	}
}
