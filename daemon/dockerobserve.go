package daemon

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/runtime/dockerobserve"
	"github.com/plugdbg/plugdbg/runtime/metrics"
)

// dockerObserve starts the observation of dockerd's plugins: their
// recording points' helpers are reconciled with what is observed and what
// dockerd runs, now and at each of dockerd's plugin events, until ctx
// ends (the helpers run on). It returns nil, having said why, if dockerd's
// plugins cannot be observed.
func dockerObserve(ctx context.Context, o Options, dh *dockerd.Host, self string, log *logrus.Logger) *dockerobserve.Manager {
	m, err := dockerobserve.New(dockerobserve.Options{
		Dir:       filepath.Join(o.ExecRoot, "docker-observe"),
		StateFile: filepath.Join(o.DataRoot, "docker-observe.json"),
		Binary:    self,
		Docker:    dh,
		Log:       log,
	})
	if err != nil {
		log.WithError(err).Warn("dockerd's plugins cannot be observed")
		return nil
	}
	go m.Run(ctx)
	return m
}

// callSources are several sources of observed plugins' calls (plugdbg's
// own, dockerd's) as one metrics.CallSource: what each could read, and
// the errors of all.
type callSources []metrics.CallSource

func (cs callSources) CallStats(ctx context.Context) ([]types.CallStats, error) {
	var out []types.CallStats
	var errs []error
	for _, c := range cs {
		st, err := c.CallStats(ctx)
		out = append(out, st...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
