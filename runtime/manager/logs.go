package manager

import (
	"github.com/plugdbg/plugdbg/logs/follow"
)

// LogTarget resolves ref to the plugin whose log a follow.Follower reads.
func (m *Manager) LogTarget(ref string) (follow.Target, error) {
	e, err := m.find(ref)
	if err != nil {
		return follow.Target{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return follow.Target{ID: e.p.ID, Name: e.p.Name, Path: m.logPath(e.p.ID)}, nil
}

// LogTargets lists every plugin's log, for a follow.Follower of them all.
func (m *Manager) LogTargets() []follow.Target {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]follow.Target, 0, len(m.plugins))
	for id, e := range m.plugins {
		out = append(out, follow.Target{ID: id, Name: e.p.Name, Path: m.logPath(id)})
	}
	return out
}
