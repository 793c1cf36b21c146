package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/series"
)

// startCharts samples the plugins' series for the web UI's charts
// (package series) from the manager and the log hub until the returned
// function is called. The series need no --metrics-addr: they are always
// kept, in memory.
func startCharts(charts *series.Store, m *manager.Manager, hub *logs.Hub) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { charts.Run(ctx, series.Sources{Plugins: m, Calls: m, Lines: hub}) })
	return func() { cancel(); wg.Wait() }
}

// observers tells each of its observers, in order, what the manager
// reports: the metrics' recorder and the charts' series both count
// restarts.
type observers []manager.Observer

func (o observers) Event(m events.Message) {
	for _, x := range o {
		x.Event(m)
	}
}

func (o observers) Enabled(d time.Duration) {
	for _, x := range o {
		x.Enabled(d)
	}
}
