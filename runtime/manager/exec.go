package manager

import (
	"errors"
	"fmt"
	"time"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/spec"
)

// running returns a plugin that is enabled and whose container runs now,
// or a not-found or conflict error that says why not.
func (m *Manager) running(ref, verb string) (*entry, error) {
	e, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.runningLocked(e, ref, verb); err != nil {
		return nil, err
	}
	return e, nil
}

// runningLocked returns e's current run if it runs and no stop has begun.
// Caller holds m.mu.
func (m *Manager) runningLocked(e *entry, ref, verb string) (*pluginRun, error) {
	switch {
	case e.removed:
		return nil, errkind.NotFound(fmt.Errorf("plugin %q not found", ref))
	case !e.p.Enabled && e.state.Status == types.StatusDisabled:
		return nil, errkind.Conflict(fmt.Errorf("cannot %s plugin %s: it is disabled (enable it first)", verb, e.p.Name))
	case e.state.Status == types.StatusStopping || (e.run != nil && e.run.stopping):
		return nil, errkind.Conflict(fmt.Errorf("cannot %s plugin %s: %w", verb, e.p.Name, ErrStopping))
	case e.state.Status != types.StatusRunning || e.run == nil || e.run.ended:
		return nil, errkind.Conflict(fmt.Errorf("cannot %s plugin %s: it is not running (%s)", verb, e.p.Name, e.state.Status))
	}
	return e.run, nil
}

// notRunning turns the executor's "not running" into a conflict.
func notRunning(name, verb string, err error) error {
	if errors.Is(err, container.ErrNotRunning) {
		return errkind.Conflict(fmt.Errorf("cannot %s plugin %s: %w", verb, name, err))
	}
	if errors.Is(err, container.ErrNoToolbox) {
		return errkind.Conflict(fmt.Errorf("%s plugin %s: %w", verb, name, err))
	}
	return err
}

// Exec starts a process in a running plugin's container, with the plugin's
// environment (plus c.Env), directory and user unless c says otherwise.
// The caller drives it with execproto.Serve. A command that cannot be
// started gives an *execproto.StartError (exit code 127 or 126). Execs
// and stops are ordered: none starts once a stop of the plugin has begun
// (a conflict wrapping ErrStopping), and a stop waits for those starting.
func (m *Manager) Exec(ref string, c types.ExecConfig) (execproto.Process, error) {
	if len(c.Cmd) == 0 || c.Cmd[0] == "" {
		return nil, errkind.Invalid(errors.New("exec needs a command"))
	}
	e, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	r, err := m.runningLocked(e, ref, "exec in")
	if err == nil {
		r.execs++
	}
	p := e.p
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	defer m.execStarted(r)
	// The plugin's settings cannot change while it is enabled, so this is
	// the spec its container was created from.
	s, err := spec.Build(p, spec.Paths{
		Rootfs:          m.store.Rootfs(p.ID),
		PropagatedMount: m.store.PropagatedMount(p.ID),
		SocketDir:       m.socketDir(p.ID),
		CgroupParent:    m.opts.CgroupParent,
	})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", p.Name, err)
	}
	base := container.Base{Env: s.Process.Env, Cwd: s.Process.Cwd, UID: s.Process.User.UID, GID: s.Process.User.GID}
	t0 := time.Now()
	proc, err := m.opts.Executor.Exec(p.ID, c, base)
	if err != nil {
		var se *execproto.StartError
		if errors.As(err, &se) {
			return nil, err
		}
		m.mu.Lock()
		stopping := r.stopping
		m.mu.Unlock()
		if stopping && errors.Is(err, container.ErrNotRunning) {
			return nil, errkind.Conflict(fmt.Errorf("cannot exec in plugin %s: %w", p.Name, ErrStopping))
		}
		return nil, notRunning(p.Name, "exec in", err)
	}
	m.log.WithField("plugin", p.ID).Debugf("exec %q (tty %v) started in %s", c.Cmd, c.Tty, time.Since(t0))
	return countSession(e, proc), nil
}

// execStarted ends the start of an exec in run r, waking a stop that
// waits for it.
func (m *Manager) execStarted(r *pluginRun) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.execs--
	if r.execs == 0 && r.execsIdle != nil {
		close(r.execsIdle)
		r.execsIdle = nil
	}
}

// Top lists the processes of a running plugin's container.
func (m *Manager) Top(ref string) (types.Top, error) {
	e, err := m.running(ref, "list processes of")
	if err != nil {
		return types.Top{}, err
	}
	t, err := m.opts.Executor.Top(e.p.ID)
	return t, notRunning(e.p.Name, "list processes of", err)
}

// Stats samples the cgroup counters of a running plugin's container.
func (m *Manager) Stats(ref string) (types.Stats, error) {
	e, err := m.running(ref, "read stats of")
	if err != nil {
		return types.Stats{}, err
	}
	s, err := m.opts.Executor.Stats(e.p.ID)
	return s, notRunning(e.p.Name, "read stats of", err)
}
