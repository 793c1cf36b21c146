package webui

import (
	"context"
	"errors"
	"fmt"

	"github.com/plugdbg/plugdbg/runtime/series"
)

// Charts is the daemon's in-memory series of each plugin (the last 15
// minutes, a point every series.Step): *series.Store. Its methods must be
// safe for concurrent use.
type Charts interface {
	// Changed returns a channel closed once the next point is stored.
	Changed() <-chan struct{}
	// Window returns plugin id's series; empty if it has none.
	Window(id string) series.SeriesWindow
	// Points returns plugin id's points after time after (0: all); ok is
	// false when they do not follow on from after, and the whole Window
	// must be taken again.
	Points(id string, after int64) (pts []series.Point, ok bool)
}

// maxChartSubs bounds the series a page follows at once: it shows one
// plugin's charts.
const maxChartSubs = 4

// errNoCharts answers a page whose daemon keeps no series.
var errNoCharts = errors.New("this daemon keeps no chart series")

type seriesMsg struct {
	// "series": a plugin's whole window, at subscribe and whenever the
	// page must start over (it fell 15 minutes behind, or the plugin was
	// removed); "series.points": the points sampled since the last
	// message, oldest first (normally one).
	Type     string               `json:"type"`
	ID       string               `json:"id"`
	Plugin   string               `json:"plugin,omitempty"`   // name
	PluginID string               `json:"pluginId,omitempty"` // ID
	Window   *series.SeriesWindow `json:"window,omitempty"`
	Points   []series.Point       `json:"points,omitempty"`
}

// subscribeSeries follows m.Plugin's series for the page under
// subscription m.ID (replacing one of that ID) until series.unsubscribe
// or the page goes.
func (c *conn) subscribeSeries(m inMsg) {
	charts := c.s.o.Charts
	if charts == nil {
		c.sendError(m.ID, errNoCharts)
		return
	}
	if m.ID == "" {
		c.sendError("", errors.New("series.subscribe: no id"))
		return
	}
	p, err := c.s.o.Backend.Inspect(m.Plugin)
	if err != nil {
		c.sendError(m.ID, err)
		return
	}
	c.mu.Lock()
	if stop := c.series[m.ID]; stop != nil {
		stop()
		delete(c.series, m.ID)
	}
	if len(c.series) >= maxChartSubs {
		c.mu.Unlock()
		c.sendError(m.ID, fmt.Errorf("a page follows at most %d plugins' series; unsubscribe one first", maxChartSubs))
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.series[m.ID] = cancel
	c.mu.Unlock()
	go c.followSeries(ctx, charts, m.ID, p.ID, p.Name)
}

func (c *conn) unsubscribeSeries(id string) { c.stopSub(c.series, id) }

// followSeries sends plugin id's window, then the points sampled after
// the last one sent, at each sample. A page whose queue is full gets
// nothing lost: what could not be sent goes with the next sample's
// points.
func (c *conn) followSeries(ctx context.Context, charts Charts, sub, id, name string) {
	changed := charts.Changed() // before reading: no sample is missed
	whole, last := true, int64(0)
	for {
		switch {
		case ctx.Err() != nil:
			return // unsubscribed while a sample was stored
		case whole:
			w := charts.Window(id)
			if c.sendJSON(seriesMsg{Type: "series", ID: sub, Plugin: name, PluginID: id, Window: &w}) {
				whole, last = false, 0
				if n := len(w.Times); n > 0 {
					last = w.Times[n-1]
				}
			}
		default:
			pts, ok := charts.Points(id, last)
			if !ok {
				whole = true
				continue
			}
			if len(pts) > 0 && c.sendJSON(seriesMsg{Type: "series.points", ID: sub, Points: pts}) {
				last = pts[len(pts)-1].Time
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = charts.Changed()
		}
	}
}
