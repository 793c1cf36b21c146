package manager

import (
	"context"

	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// TracingExecutor is an Executor whose runs' recording points can stream
// the records of the calls that pass them (MonitorExecutor is one), so
// that a trace of an observed plugin reads them there, in one hop and one
// parser, rather than stacking a proxy of its own on top of the point.
type TracingExecutor interface {
	// TracePoint attaches a trace stream to the recording point of plugin
	// id's run; ctx bounds the attaching only. An error means the trace
	// needs a proxy of its own: no point in place, or a monitor of an
	// earlier plugdbg (monitor.ErrEarlierMonitor).
	TracePoint(ctx context.Context, id string) (PointTrace, error)
}

// PointTrace is a trace stream from a run's recording point
// (monitor.TraceStream): Next from one goroutine, Close from any.
type PointTrace interface {
	Next() (monitor.TraceMessage, error)
	Close() error
}

// TracePoint implements TracingExecutor.
func (x *MonitorExecutor) TracePoint(ctx context.Context, id string) (PointTrace, error) {
	s, err := monitor.Trace(ctx, x.dir(id))
	if err != nil {
		return nil, err
	}
	return s, nil
}
