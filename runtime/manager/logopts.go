package manager

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/plugdbg/plugdbg/logs"
)

// LogConfig in inspect shows the rotation of a plugin's output history,
// in the shape of Docker's HostConfig.LogConfig: the options in effect,
// the daemon's defaults filled in.
type LogConfigView struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// logLimitSetter is a Run whose log limits change while it runs.
type logLimitSetter interface {
	SetLogLimits(maxSize int64, maxFiles int)
}

// baseLogLimits are the daemon's limits, for plugins that set none.
func (m *Manager) baseLogLimits() logs.Limits {
	return logs.Limits{MaxSize: m.opts.LogMaxSize, MaxFiles: m.opts.LogMaxFiles}
}

// logLimits are e's limits in effect. Options stored broken (a hand-edited
// file) fall back to the daemon's, as Restore warned.
func (m *Manager) logLimits(e *entry) logs.Limits {
	l, err := logs.ParseOpts(m.baseLogLimits(), e.logOpts)
	if err != nil {
		return m.baseLogLimits()
	}
	return l
}

// ValidateLogOpts checks log options (max-size, max-file) without
// applying them.
func (m *Manager) ValidateLogOpts(opts map[string]string) error {
	if _, err := logs.ParseOpts(m.baseLogLimits(), opts); err != nil {
		return invalid(err)
	}
	return nil
}

// SetLogOpts changes the rotation of a plugin's output history: opts are
// merged into what was set before, an empty value going back to the
// daemon's default. Unlike settings they may change while the plugin
// runs, and take effect at its next write.
func (m *Manager) SetLogOpts(ref string, opts map[string]string) error {
	if len(opts) == 0 {
		return invalid(errors.New("no log opt given"))
	}
	e, p, err := m.lock(ref)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	m.mu.Lock()
	merged := maps.Clone(e.logOpts)
	m.mu.Unlock()
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range opts {
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	limits, err := logs.ParseOpts(m.baseLogLimits(), merged)
	if err != nil {
		return invalid(err)
	}
	o, err := m.store.Opts(p.ID)
	if err != nil {
		return err
	}
	o.LogOpts = merged
	if err := m.store.SaveOpts(p.ID, o); err != nil {
		return err
	}
	m.mu.Lock()
	e.logOpts = merged
	var run Run
	if e.run != nil && !e.run.ended {
		run = e.run.conn
	}
	m.mu.Unlock()
	if s, ok := run.(logLimitSetter); ok {
		s.SetLogLimits(limits.MaxSize, limits.MaxFiles)
	}
	var kvs []string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		kvs = append(kvs, k+"="+opts[k])
	}
	m.emit(p.ID, p.Name, ActionSet, map[string]string{"log-opts": strings.Join(kvs, " ")})
	return nil
}
