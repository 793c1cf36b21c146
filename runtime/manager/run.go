package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/sockwatch"
	"github.com/plugdbg/plugdbg/runtime/spec"
	"github.com/plugdbg/plugdbg/runtime/store"
)

// maxSocketPath is the longest path connect(2) takes for a unix socket.
const maxSocketPath = 107

// start runs plugin e and waits, until ctx ends, for it to answer
// Plugin.Activate. On error nothing of the run is left. Caller holds e.op.
func (m *Manager) start(ctx context.Context, e *entry) (retErr error) {
	begin := time.Now()
	// The next start's spare monitor boots once this one no longer needs
	// the CPU: ready, or failed.
	if w, ok := m.opts.Executor.(interface{ Prewarm() }); ok {
		defer w.Prewarm()
	}
	m.mu.Lock()
	p := e.p
	m.mu.Unlock()
	id := p.ID

	if err := config.Validate(p.Config); err != nil {
		return errkind.Invalid(fmt.Errorf("config.json: %w", err))
	}
	s, err := spec.Build(p, spec.Paths{
		Rootfs:          m.store.Rootfs(id),
		PropagatedMount: m.store.PropagatedMount(id),
		SocketDir:       m.socketDir(id),
		CgroupParent:    m.opts.CgroupParent,
	})
	if err != nil {
		return errkind.Invalid(err)
	}
	sock := m.socketPath(p)
	if len(sock) > maxSocketPath {
		return errkind.Invalid(fmt.Errorf("socket path %s is %d bytes, more than the %d a unix socket allows: use a shorter --exec-root or socket name", sock, len(sock), maxSocketPath))
	}

	sockDir := m.socketDir(id)
	_ = os.RemoveAll(sockDir)
	m.mu.Lock()
	e.state.StaleTrace = "" // whatever a trace left went with the directory
	m.mu.Unlock()
	if err := os.MkdirAll(sockDir, 0o700); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			m.cleanupHost(id, p.Config.PropagatedMount != "")
		}
	}()
	if p.Config.PropagatedMount != "" {
		if err := makeRShared(m.store.PropagatedMount(id)); err != nil {
			return fmt.Errorf("propagated mount: %w", err)
		}
	}
	watch, err := sockwatch.New(sockDir, p.Config.Interface.Socket)
	if err != nil {
		return err
	}
	defer watch.Close()

	prepared := time.Since(begin) // spec, directories and the socket's watch
	t0 := time.Now()
	m.mu.Lock()
	limits := m.logLimits(e)
	observe := m.wantsObserve(e)
	e.state.Recording, e.state.ObserveError = false, ""
	m.mu.Unlock()
	conn, err := m.opts.Executor.Start(ctx, id, s, LogConfig{
		Path: m.logPath(id), MaxSize: limits.MaxSize, MaxFiles: limits.MaxFiles,
		Reserve: m.logReserve(id), Socket: sock, Observe: observe,
	})
	if err != nil {
		// A monitor that timed out may have left a container behind.
		_ = m.opts.Executor.Cleanup(id)
		return err
	}
	r := m.attach(e, conn, true)
	m.log.WithField("plugin", id).Debugf("container started in %s (%s, handover and report %s)", time.Since(begin), startPhases(prepared, conn.Hello().Phases), handoverGap(time.Since(t0), conn.Hello().Phases))

	if err := m.waitReady(ctx, e, r, sock, watch, observe); err != nil {
		m.mu.Lock()
		r.stopping = true
		m.mu.Unlock()
		conn.Stop(0)
		<-r.done
		return err
	}
	// A trace that outlived the plugin's last run records this one.
	m.followTrace(id, sock)
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.ended {
		return m.exitedError(r)
	}
	r.starting = false
	e.state.Status = types.StatusRunning
	return nil
}

// startPhases says where a container start went, for the debug log:
// before the monitor (prepared), then the monitor's own phases.
func startPhases(prepared time.Duration, phases []monitor.Phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "prepare %s", prepared.Round(10*time.Microsecond))
	for _, p := range phases {
		fmt.Fprintf(&b, ", %s %s", p.Name, p.Duration.Round(10*time.Microsecond))
	}
	return b.String()
}

// handoverGap is what the start took beyond the monitor's own phases: the
// monitor's config, waking the spare monitor, its report and the attach.
func handoverGap(total time.Duration, phases []monitor.Phase) time.Duration {
	for _, p := range phases {
		total -= p.Duration
	}
	return total.Round(10 * time.Microsecond)
}

// attach makes r the plugin's current run and starts consuming its output.
func (m *Manager) attach(e *entry, conn Run, starting bool) *pluginRun {
	hello := conn.Hello()
	r := &pluginRun{conn: conn, startedAt: hello.StartedAt, done: make(chan struct{}), starting: starting}
	m.mu.Lock()
	e.run = r
	e.state.Pid = hello.Pid
	started := hello.StartedAt
	e.state.StartedAt = &started
	e.state.NextRestart = nil
	if starting {
		e.state.Status = types.StatusStarting
	} else {
		e.state.Status = types.StatusRunning
	}
	id := e.p.ID
	m.mu.Unlock()
	go m.pump(e, id, r)
	return r
}

// waitReady waits for the socket, then, if observe, for the recording
// point on it, then for Plugin.Activate, and fails fast when the plugin
// exits.
func (m *Manager) waitReady(ctx context.Context, e *entry, r *pluginRun, sock string, w *sockwatch.Watch, observe bool) error {
	reportProgress(ctx, "waiting for Plugin.Activate on %s%s", sock, timeoutNote(ctx))
	t0 := time.Now()
	select {
	case <-w.Created():
	case <-r.done:
		return m.exitedErrorLocked(r)
	case <-ctx.Done():
		return m.noSocketError(e, r, sock)
	}
	m.log.WithField("plugin", e.p.ID).Debugf("socket appeared after %s", time.Since(t0))
	if observe {
		t0 = time.Now()
		if err := m.startObserving(ctx, e); err != nil {
			select {
			case <-r.done:
				return m.exitedErrorLocked(r)
			default:
			}
			return err
		}
		m.log.WithField("plugin", e.p.ID).Debugf("recording point in place after %s", time.Since(t0))
	}
	t0 = time.Now()
	warning, err := m.activate(ctx, e, sock, r.done)
	m.log.WithField("plugin", e.p.ID).Debugf("Plugin.Activate answered after %s", time.Since(t0))
	if errors.Is(err, errExited) {
		return m.exitedErrorLocked(r)
	}
	if err != nil {
		return err
	}
	if warning != "" {
		m.log.WithField("plugin", e.p.ID).Warn(warning)
	}
	return nil
}

func (m *Manager) exitedErrorLocked(r *pluginRun) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.exitedError(r)
}

// exitedError explains a plugin that exited before it was ready.
func (m *Manager) exitedError(r *pluginRun) error {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin exited before it was ready (%s)", r.exit)
	r.tailMu.Lock()
	tail := append([]logs.Entry(nil), r.tail...)
	r.tailMu.Unlock()
	// stdout and stderr are read concurrently; their read times order them.
	sort.SliceStable(tail, func(i, j int) bool { return tail[i].Time < tail[j].Time })
	if len(tail) == 0 {
		b.WriteString("; it wrote no output")
	} else {
		b.WriteString("; its last output:")
		for _, l := range tail {
			fmt.Fprintf(&b, "\n  %s: %s", l.Stream, l.Line)
		}
	}
	return errors.New(b.String())
}

func (m *Manager) noSocketError(e *entry, r *pluginRun, sock string) error {
	m.mu.Lock()
	pid := e.state.Pid
	m.mu.Unlock()
	msg := fmt.Sprintf("plugin did not create its socket %s (%s inside the plugin) before the timeout", sock, spec.SocketDirInPlugin+"/"+e.p.Config.Interface.Socket)
	// Sockets in the socket dir show twice: as the plugin sees them (from
	// its processes' descriptors) and on the host; name each once, as the
	// plugin sees it.
	others := listeningSockets(m.pluginPids(e.p.ID, pid))
	for _, s := range socketsIn(m.socketDir(e.p.ID)) {
		inPlugin := spec.SocketDirInPlugin + "/" + filepath.Base(s)
		if s != sock && !slices.Contains(others, inPlugin) {
			others = append(others, inPlugin)
		}
	}
	if len(others) > 0 {
		msg += "; it listens on " + strings.Join(others, ", ") + " instead"
	} else {
		msg += "; it created no unix socket"
	}
	return errors.New(msg)
}

// pump consumes a run's output and exit.
func (m *Manager) pump(e *entry, id string, r *pluginRun) {
	joiner := logs.NewJoiner(daemonLogLineLimit)
	var whole []logs.Entry // a batch's lines for the daemon log, pieces joined
	for {
		msg, err := r.conn.Next()
		if err != nil {
			m.mu.Lock()
			closing := m.closing
			m.mu.Unlock()
			if closing {
				return // daemon shutdown: the plugin runs on
			}
			r.exit = m.lostMonitor(id, err)
			break
		}
		if msg.Skipped > 0 {
			m.fromHistory(id, joiner, msg.SkippedAfter, msg.Skipped)
		}
		whole = whole[:0]
		for _, l := range msg.Lines {
			if l, ok := joiner.Add(l); ok {
				whole = append(whole, l)
			}
		}
		logs.TagBatch(m.log, id, whole)
		m.hub.Publish(logs.Batch{Plugin: id, Entries: msg.Lines})
		if msg.Unstored > r.unstored {
			m.mu.Lock()
			e.state.UnstoredLines += msg.Unstored - r.unstored
			m.mu.Unlock()
			m.noteUnstored(e, id, r, msg.Unstored-r.unstored)
			r.unstored = msg.Unstored
		}
		var ack uint64
		if msg.Skipped > 0 {
			ack = msg.SkippedAfter + msg.Skipped
		}
		if n := len(msg.Lines); n > 0 {
			r.addTail(msg.Lines)
			ack = msg.Lines[n-1].Seq
		}
		if ack > 0 {
			// Acknowledge only what is out of the daemon's buffers, and not
			// the pieces of a line still being joined, so a kill -9 of the
			// daemon loses no line of its log.
			if f, ok := m.log.Out.(interface{ Flush() error }); ok {
				_ = f.Flush()
			}
			if held := joiner.Held(); held != 0 {
				ack = min(ack, held-1)
			}
			r.conn.Ack(ack)
		}
		if msg.Exit != nil {
			r.exit = *msg.Exit
			break
		}
	}
	r.conn.Close()
	m.ended(e, r)
}

// daemonLogLineLimit bounds a line in the daemon log: longer ones (they
// are whole in the plugin's history) are logged in pieces of about this size.
const daemonLogLineLimit = 1 << 20

// noteUnstored reports, in the daemon log, lines the run's log file could
// not take: at once, then at most once a second, so that a full disk does
// not flood the daemon log with one error per batch.
func (m *Manager) noteUnstored(e *entry, id string, r *pluginRun, n uint64) {
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	r.unreported += n
	if r.reportTimer != nil {
		return // a report is due
	}
	wait := time.Second - time.Since(r.reportedAt)
	report := func() {
		r.reportMu.Lock()
		defer r.reportMu.Unlock()
		m.mu.Lock()
		total := e.state.UnstoredLines
		m.mu.Unlock()
		m.log.WithField("plugin", id).Errorf("%d lines of plugin output could not be stored in %s (%d in all); see the monitor log for why", r.unreported, m.logPath(id), total)
		r.unreported, r.reportedAt, r.reportTimer = 0, time.Now(), nil
	}
	if wait <= 0 {
		r.reportMu.Unlock()
		report()
		r.reportMu.Lock()
		return
	}
	r.reportTimer = time.AfterFunc(wait, report)
}

// lostMonitor works out how a run ended whose monitor vanished without
// reporting an exit, and makes sure nothing of it keeps running.
func (m *Manager) lostMonitor(id string, cause error) types.PluginExit {
	if s, ok := m.opts.Executor.LastExit(id); ok {
		return s
	}
	err := m.opts.Executor.Cleanup(id)
	s := types.PluginExit{ExitCode: -1, ExitedAt: time.Now(), Error: fmt.Sprintf("monitor connection lost: %v", cause)}
	if err != nil {
		s.Error += fmt.Sprintf("; cleanup: %v", err)
	}
	return s
}

func (r *pluginRun) addTail(lines []logs.Entry) {
	// Only the last tailLines of a batch can stay: a flood's batches hold
	// thousands of lines, which are not copied to be dropped.
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	r.tailMu.Lock()
	defer r.tailMu.Unlock()
	r.tail = append(r.tail, lines...)
	if len(r.tail) > tailLines {
		r.tail = append(r.tail[:0], r.tail[len(r.tail)-tailLines:]...) // in place: exitedError copies it
	}
}

// ended records the end of run r and, if it was a crash of an enabled
// plugin, schedules a restart with exponential backoff.
func (m *Manager) ended(e *entry, r *pluginRun) {
	// What the run left on the host goes before anyone learns that it
	// ended (r.done): a disable waits for that and then lets the next
	// enable in, whose new socket directory a later cleanup would remove.
	m.mu.Lock()
	current := e.run == r
	id, hasProp := e.p.ID, e.p.Config.PropagatedMount != ""
	m.mu.Unlock()
	if current {
		m.cleanupHost(id, hasProp)
	}

	m.mu.Lock()
	r.ended = true
	close(r.done)
	current = e.run == r
	if current {
		e.run = nil
		e.state.Pid = 0
		e.state.Recording, e.state.ObserveError = false, ""
	}
	crash := current && !r.stopping && !r.starting && (e.p.Enabled || e.enabling) && !e.removed && !m.closing
	name := e.p.Name
	exit := r.exit
	var delay time.Duration
	// A stop this daemon did not ask for, but an earlier one did, of a
	// run this daemon reattached to: a disable that daemon did not get to
	// record. Not a crash; the store says enabled, so it runs again.
	requested := crash && exit.Requested
	if requested {
		crash = false
		e.state.LastExit = &exit
		e.backoff = backoffMin
		delay = m.scheduleRestart(e)
	}
	if crash {
		if time.Since(r.startedAt) >= healthyAfter {
			e.backoff = backoffMin
		}
		e.state.LastExit = &exit
		e.state.RestartCount++
		delay = m.scheduleRestart(e)
	} else if current && !r.starting {
		e.state.LastExit = &exit
	}
	m.mu.Unlock()

	if requested {
		m.log.WithField("plugin", id).Infof("plugin %s was stopped at an earlier daemon's request (%s), which did not record it disabled; starting it again in %s", name, exit, delay)
	}
	if crash {
		m.log.WithField("plugin", id).Errorf("plugin %s exited unexpectedly (%s); restarting in %s", name, exit, delay)
		m.emit(id, name, types.ActionExit, exitAttrs(exit))
		m.emit(id, name, types.ActionRestarting, map[string]string{"delay": delay.String()})
	}
}

func exitAttrs(s types.PluginExit) map[string]string {
	a := map[string]string{"exitCode": fmt.Sprint(s.ExitCode)}
	if s.Signal != "" {
		a["signal"] = s.Signal
	}
	if s.Error != "" {
		a["error"] = s.Error
	}
	return a
}

// restart runs a crashed plugin again; a failure schedules the next try.
func (m *Manager) restart(e *entry) {
	e.op.Lock()
	defer e.op.Unlock()
	m.mu.Lock()
	if e.removed || !e.p.Enabled || e.run != nil || m.closing {
		m.mu.Unlock()
		return
	}
	e.timer = nil
	id, name := e.p.ID, e.p.Name
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), DefaultEnableTimeout)
	defer cancel()
	err := m.start(ctx, e)
	m.mu.Lock()
	if err == nil {
		e.state.Error = ""
		m.mu.Unlock()
		m.emit(id, name, types.ActionRestart, nil)
		return
	}
	e.state.Error = err.Error()
	if e.removed || !e.p.Enabled || m.closing {
		m.mu.Unlock()
		return
	}
	e.state.RestartCount++
	delay := m.scheduleRestart(e)
	m.mu.Unlock()
	m.log.WithField("plugin", id).Errorf("restart of plugin %s failed: %v; next try in %s", name, err, delay)
	m.emit(id, name, types.ActionRestarting, map[string]string{"delay": delay.String(), "error": err.Error()})
}

// scheduleRestart arms the next restart of e after the current backoff,
// doubles the backoff and returns the delay. Caller holds m.mu.
func (m *Manager) scheduleRestart(e *entry) time.Duration {
	delay := e.backoff
	e.backoff = min(2*e.backoff, backoffMax)
	e.state.Status = types.StatusRestarting
	next := time.Now().Add(delay)
	e.state.NextRestart = &next
	e.timer = time.AfterFunc(delay, func() { m.restart(e) })
	return delay
}

// stopSlack is how long a stop waits, after the grace period, for the
// plugin to exit of SIGKILL. A variable so that tests can shorten it.
var stopSlack = 10 * time.Second

// execStartMax bounds the wait of a stop for execs still starting; their
// start has bounded steps of its own, well under this.
const execStartMax = 30 * time.Second

// stop ends the plugin's current run, if any, and cancels a pending
// restart. Execs refuse to start from here on; those starting already are
// let finish first, as the container's init cannot end while an exec is
// joining its PID namespace. Caller holds e.op.
func (m *Manager) stop(e *entry, grace time.Duration) error {
	m.mu.Lock()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	r, id := e.run, e.p.ID
	var execsIdle chan struct{}
	if r != nil {
		r.stopping = true
		e.state.Status = types.StatusStopping
		if r.execs > 0 {
			if r.execsIdle == nil {
				r.execsIdle = make(chan struct{})
			}
			execsIdle = r.execsIdle
		}
	}
	m.mu.Unlock()
	if r == nil {
		return nil
	}
	if execsIdle != nil {
		select {
		case <-execsIdle:
		case <-time.After(execStartMax):
			m.log.WithField("plugin", id).Warnf("execs still starting after %s; stopping the plugin anyway", execStartMax)
		}
	}
	r.conn.Stop(grace)
	select {
	case <-r.done:
		return nil
	case <-time.After(grace + stopSlack):
		return fmt.Errorf("plugin did not exit %s after SIGTERM and SIGKILL", grace+stopSlack)
	}
}

// cleanupHost removes what a run needed on the host.
func (m *Manager) cleanupHost(id string, propagated bool) {
	_ = os.RemoveAll(m.socketDir(id))
	if propagated {
		if err := unmountAll(m.store.PropagatedMount(id)); err != nil {
			m.log.WithField("plugin", id).Warn(err)
		}
	}
}

// Restore loads the store and brings back the plugins that were enabled:
// it reattaches to those still running under their monitors, and starts
// the others again (after a reboot, or a crash while no daemon watched).
// Whatever else earlier runs left — a monitor, container, state or cgroup
// of a plugin that is disabled or gone — is stopped and removed, so that
// after any crash what runs is what the store records. It returns once
// every plugin has been handled.
func (m *Manager) Restore(ctx context.Context) error {
	recs, loadErr := m.store.Load()
	if loadErr != nil {
		m.log.WithError(loadErr).Error("some plugins could not be loaded")
	}
	enabled := map[string]bool{}
	entries := make([]*entry, 0, len(recs))
	for _, rec := range recs {
		e := &entry{p: rec.Plugin, state: types.State{Status: types.StatusDisabled}, backoff: backoffMin}
		var err error
		var o store.Opts
		if o, err = m.store.Opts(rec.Plugin.ID); err == nil {
			e.logOpts = o.LogOpts
			e.observe = o.Observe
			_, err = logs.ParseOpts(m.baseLogLimits(), e.logOpts)
		}
		if err != nil {
			m.log.WithField("plugin", rec.Plugin.ID).WithError(err).Warn("log options ignored; the daemon's are used")
		}
		m.mu.Lock()
		m.plugins[rec.Plugin.ID] = e
		m.mu.Unlock()
		enabled[rec.Plugin.ID] = rec.Plugin.Enabled
		entries = append(entries, e)
	}
	left := m.sweep(enabled)
	done := make(chan struct{}, len(entries))
	for _, e := range entries {
		if !e.p.Enabled {
			l, ok := left[e.p.ID]
			m.discardOrphan(e.p.ID, e.p.Name, e.p.Config.PropagatedMount != "", l, ok)
			done <- struct{}{}
			continue
		}
		go func() {
			defer func() { done <- struct{}{} }()
			m.recover(ctx, e, left[e.p.ID])
		}()
	}
	for range entries {
		<-done
	}
	return loadErr
}

// discardOrphan stops and removes what runs of a disabled plugin left
// (left, if found is set; else the executor could not say, and a running
// monitor is looked for): a daemon died while it enabled the plugin, or
// while it disabled or removed it. No daemon would control such a run, and
// a plugin shown as disabled must not be serving. A finished run's record
// is kept.
func (m *Manager) discardOrphan(id, name string, propagated bool, left monitor.Leftover, found bool) {
	log := m.log.WithField("plugin", id)
	if !found {
		conn, err := m.opts.Executor.Attach(id)
		if err != nil {
			m.cleanupHost(id, propagated)
			return
		}
		conn.Close()
		left = monitor.Leftover{Monitor: true}
	}
	if !left.Finished {
		if left.Running() {
			log.Warnf("stopping plugin %s: it runs but is not enabled (a daemon died while enabling or disabling it): %s", name, left)
		} else {
			log.Warnf("removing what a run of plugin %s left (%s): a daemon died before the run was set up or cleaned up", name, left)
		}
		if err := m.opts.Executor.Cleanup(id); err != nil {
			log.WithError(err).Error("remove leftover container")
		}
	}
	m.cleanupHost(id, propagated)
}

// recover reattaches to enabled plugin e's run, or starts it again after
// removing what is left of the last run (left, as found at start).
func (m *Manager) recover(ctx context.Context, e *entry, left monitor.Leftover) {
	e.op.Lock()
	defer e.op.Unlock()
	id, name := e.p.ID, e.p.Name
	log := m.log.WithField("plugin", id)
	conn, err := m.opts.Executor.Attach(id)
	if err == nil {
		m.attach(e, conn, false)
		log.Infof("reattached to plugin %s (pid %d)", name, conn.Hello().Pid)
		m.fixStaleTrace(e)
		m.reobserve(e)
		return
	}
	if exit, ok := m.opts.Executor.LastExit(id); ok {
		m.replayUnseen(id, exit)
		m.mu.Lock()
		e.state.LastExit = &exit
		m.mu.Unlock()
		if exit.Requested {
			// A stop an earlier daemon asked for, a disable it did not
			// get to record: not a crash. The store says enabled.
			log.Infof("plugin %s was stopped at an earlier daemon's request (%s), which did not record it disabled; starting it again", name, exit)
		} else {
			log.Errorf("plugin %s exited while no daemon was running (%s)", name, exit)
			m.emit(id, name, types.ActionExit, exitAttrs(exit))
		}
	}
	if !left.Finished && left != (monitor.Leftover{}) {
		log.Warnf("removing what the last run of plugin %s left (%s) before starting it again", name, left)
	}
	if err := m.opts.Executor.Cleanup(id); err != nil {
		log.WithError(err).Error("remove what the last run left")
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultEnableTimeout)
	defer cancel()
	if err := m.start(ctx, e); err != nil {
		log.Errorf("start plugin %s: %v", name, err)
		m.mu.Lock()
		e.state.Error = err.Error()
		m.scheduleRestart(e)
		m.mu.Unlock()
		return
	}
	log.Infof("started plugin %s", name)
	m.emit(id, name, types.ActionRestart, nil)
}

// fromHistory logs and publishes the n lines after seq after from the
// plugin's log file (logs.Hub.FromHistory), and says in the daemon log
// what it could not.
func (m *Manager) fromHistory(id string, joiner *logs.Joiner, after, n uint64) {
	found, err := m.hub.FromHistory(m.log, id, m.logPath(id), joiner, after, n)
	log := m.log.WithField("plugin", id)
	if err != nil {
		log.WithError(err).Warn("read plugin output the monitor did not keep")
	}
	if found < n {
		log.Warnf("%d lines of plugin output are missing from the daemon log: its monitor could not keep them and they are no longer in %s", n-found, m.logPath(id))
	}
}

// replayUnseen writes to the daemon log the lines of a run that ended
// while no daemon was attached, from the plugin's log files.
func (m *Manager) replayUnseen(id string, exit types.PluginExit) {
	if exit.LastSeq > exit.AckedSeq {
		m.fromHistory(id, logs.NewJoiner(daemonLogLineLimit), exit.AckedSeq, exit.LastSeq-exit.AckedSeq)
	}
}

// Shutdown detaches from every plugin without stopping it: plugins keep
// serving, and a later daemon reattaches.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.closing = true
	var runs []*pluginRun
	for _, e := range m.plugins {
		if e.timer != nil {
			e.timer.Stop()
		}
		if e.run != nil {
			runs = append(runs, e.run)
		}
	}
	m.mu.Unlock()
	for _, r := range runs {
		r.conn.Close()
	}
	m.closeProxies()
}
