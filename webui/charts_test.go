package webui

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/series"
)

// chartSource is the call counters of fakeBackend's plugin, p1 (id1),
// which the test raises between samples.
type chartSource struct {
	*fakeBackend
	mu      sync.Mutex
	calls   uint64
	removed atomic.Bool // p1 is gone from the list the series are sampled from
}

func (c *chartSource) List() []types.Inspect {
	if c.removed.Load() {
		return nil
	}
	return c.fakeBackend.List()
}

func (c *chartSource) CallStats(context.Context) ([]types.CallStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := types.MethodCalls{Method: "VolumeDriver.List", Count: c.calls, Statuses: map[string]uint64{"200": c.calls}, Buckets: make([]uint64, len(types.CallLatencyBuckets))}
	for i := range m.Buckets {
		m.Buckets[i] = c.calls
	}
	return []types.CallStats{{Plugin: "id1", Name: "p1", Since: time.Unix(1, 0), Methods: []types.MethodCalls{m}}}, nil
}

func (c *chartSource) call(n uint64) {
	c.mu.Lock()
	c.calls += n
	c.mu.Unlock()
}

// charted is a server whose charts are a real series.Store, sampled by
// the test at the steps it names.
type charted struct {
	store *series.Store
	src   *chartSource
	step  int
}

func (ch *charted) sample(t *testing.T) {
	t.Helper()
	ch.step++
	ch.store.Sample(context.Background(), series.Sources{Plugins: ch.src, Calls: ch.src}, time.Unix(1_800_000_000, 0).Add(time.Duration(ch.step)*series.Step))
}

func startCharted(t *testing.T) (*charted, string) {
	t.Helper()
	ch := &charted{store: series.New(nil), src: &chartSource{fakeBackend: newFakeBackend()}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	srv, err := New(Options{Backend: ch.src, Charts: ch.store, Token: testToken, Addr: addr, Assets: fstest.MapFS{"index.html": {Data: []byte("x")}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = Serve(ctx, ln, srv); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ch, addr
}

type chartMsg struct {
	Type     string               `json:"type"`
	ID       string               `json:"id"`
	Error    string               `json:"error"`
	Plugin   string               `json:"plugin"`
	PluginID string               `json:"pluginId"`
	Charts   bool                 `json:"charts"`
	Window   *series.SeriesWindow `json:"window"`
	Points   []struct {
		Time    int64 `json:"time"`
		Methods []struct {
			Method string   `json:"method"`
			Calls  float64  `json:"calls"`
			P50    *float64 `json:"p50"`
		} `json:"methods"`
	} `json:"points"`
}

// nextChart reads the page's messages until one whose type is in types.
func (p *page) nextChart(types ...string) chartMsg {
	p.t.Helper()
	for {
		_ = p.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := p.ws.ReadMessage()
		require.NoError(p.t, err, "waiting for %v", types)
		var m chartMsg
		require.NoError(p.t, json.Unmarshal(data, &m))
		for _, typ := range types {
			if m.Type == typ {
				return m
			}
		}
	}
}

// TestChartsSubscribe: a page subscribing to a plugin's series gets its
// window, then each new point as it is sampled, until it unsubscribes.
func TestChartsSubscribe(t *testing.T) {
	ch, addr := startCharted(t)
	ch.sample(t) // the first sample: no point yet
	ch.src.call(10)
	ch.sample(t)

	p := openPage(t, addr)
	hello := p.nextChart("hello")
	assert.True(t, hello.Charts, "hello says the daemon keeps series")
	p.send(map[string]any{"type": "series.subscribe", "id": "c1", "plugin": "p1"})
	m := p.nextChart("series", "error")
	require.Equal(t, "series", m.Type, "error: %s", m.Error)
	assert.Equal(t, "c1", m.ID)
	assert.Equal(t, "p1", m.Plugin)
	assert.Equal(t, "id1", m.PluginID)
	require.NotNil(t, m.Window)
	require.Len(t, m.Window.Times, 1)
	assert.Equal(t, 5, m.Window.Step)
	require.Len(t, m.Window.Methods, 1)
	assert.Equal(t, []series.Value{2}, m.Window.Methods[0].Calls, "10 calls in a 5 s step")

	ch.src.call(25)
	ch.sample(t)
	m = p.nextChart("series.points")
	require.Len(t, m.Points, 1)
	assert.Equal(t, m.Window, (*series.SeriesWindow)(nil))
	assert.Greater(t, m.Points[0].Time, int64(0))
	require.Len(t, m.Points[0].Methods, 1)
	assert.Equal(t, "VolumeDriver.List", m.Points[0].Methods[0].Method)
	assert.Equal(t, 5.0, m.Points[0].Methods[0].Calls)
	require.NotNil(t, m.Points[0].Methods[0].P50)

	ch.sample(t) // a step without calls is a point too
	m = p.nextChart("series.points")
	require.Len(t, m.Points, 1)
	assert.Empty(t, m.Points[0].Methods)

	// Once the page's unsubscribe is read (the answer to the message after
	// it says so), no point follows.
	p.send(map[string]any{"type": "series.unsubscribe", "id": "c1"})
	p.send(map[string]any{"type": "nope", "id": "after"})
	m = p.nextChart("error", "series.points")
	require.Equal(t, "error", m.Type)
	require.Equal(t, "after", m.ID)
	ch.src.call(1)
	ch.sample(t)
	p.send(map[string]any{"type": "nope", "id": "after2"})
	m = p.nextChart("error", "series.points", "series")
	assert.Equal(t, "error", m.Type, "no series message after the unsubscribe")
	assert.Equal(t, "after2", m.ID)
}

// TestChartsRemovedPlugin: a page whose plugin is removed gets the window
// again (empty), and then nothing more.
func TestChartsRemovedPlugin(t *testing.T) {
	ch, addr := startCharted(t)
	ch.sample(t)
	ch.sample(t)
	p := openPage(t, addr)
	p.send(map[string]any{"type": "series.subscribe", "id": "c1", "plugin": "id1"})
	m := p.nextChart("series")
	require.Len(t, m.Window.Times, 1)
	ch.src.removed.Store(true)
	ch.sample(t)
	m = p.nextChart("series", "series.points")
	require.Equal(t, "series", m.Type)
	assert.Empty(t, m.Window.Times)
}

func TestChartsErrors(t *testing.T) {
	ch, addr := startCharted(t)
	ch.sample(t)
	p := openPage(t, addr)
	p.send(map[string]any{"type": "series.subscribe", "id": "x", "plugin": "missing"})
	m := p.nextChart("error")
	assert.Equal(t, "x", m.ID)
	assert.Contains(t, m.Error, "not found")

	for i := range maxChartSubs {
		id := string(rune('a' + i))
		p.send(map[string]any{"type": "series.subscribe", "id": id, "plugin": "p1"})
		assert.Equal(t, id, p.nextChart("series").ID)
	}
	p.send(map[string]any{"type": "series.subscribe", "id": "a", "plugin": "p1"})
	assert.Equal(t, "a", p.nextChart("series", "error").ID, "one of the same ID is replaced")
	p.send(map[string]any{"type": "series.subscribe", "id": "more", "plugin": "p1"})
	m = p.nextChart("series", "error")
	assert.Equal(t, "error", m.Type)
	assert.Contains(t, m.Error, "at most 4")

	// A daemon without series says so.
	_, plain := startServer(t, newFakeBackend())
	p = openPage(t, plain)
	assert.False(t, p.nextChart("hello").Charts)
	p.send(map[string]any{"type": "series.subscribe", "id": "y", "plugin": "p1"})
	m = p.nextChart("error")
	assert.Equal(t, "y", m.ID)
	assert.Equal(t, errNoCharts.Error(), m.Error)
}
