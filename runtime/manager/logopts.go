package manager

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/logs"
)

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
		return errkind.Invalid(err)
	}
	return nil
}

// SetLogOpts changes the rotation of a plugin's output history: opts are
// merged into what was set before, an empty value going back to the
// daemon's default. Unlike settings they may change while the plugin
// runs, and take effect at its next write.
func (m *Manager) SetLogOpts(ref string, opts map[string]string) error {
	if len(opts) == 0 {
		return errkind.Invalid(errors.New("no log opt given"))
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
		return errkind.Invalid(err)
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
	m.emit(p.ID, p.Name, types.ActionSet, map[string]string{"log-opts": strings.Join(kvs, " ")})
	return nil
}

// logReserve is the free space plugin id's log must leave on its
// filesystem: the daemon's reserve when the log shares the data root's
// filesystem, whose state it protects, and nothing when the log lives on
// a filesystem of its own.
func (m *Manager) logReserve(id string) int64 {
	if m.opts.LogReserve <= 0 {
		return 0
	}
	logDev, ok := deviceOf(m.store.LogDir(id))
	rootDev, rok := deviceOf(m.opts.DataRoot)
	if ok && rok && logDev != rootDev {
		return 0
	}
	return m.opts.LogReserve
}

// deviceOf is the device of path's filesystem, or of its nearest existing
// ancestor: a log directory is made by the monitor at its start.
func deviceOf(path string) (uint64, bool) {
	for {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err == nil {
			return st.Dev, true
		}
		parent := filepath.Dir(path)
		if parent == path {
			return 0, false
		}
		path = parent
	}
}
