// Package daemon wires the runtime together: it opens the plugin manager,
// restores enabled plugins and serves the API until its context ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/internal/flushio"
	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/logs/follow"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/container"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/dockerobserve"
	"github.com/plugdbg/plugdbg/runtime/listen"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/metrics"
	"github.com/plugdbg/plugdbg/runtime/monitor"
	"github.com/plugdbg/plugdbg/runtime/series"
	"github.com/plugdbg/plugdbg/version"
)

// Default locations, beside Docker's own.
const (
	DefaultDataRoot = "/var/lib/plugdbg"
	DefaultExecRoot = "/run/plugdbg"
	// DefaultLogReserve is room for thousands of state writes (a plugin's
	// config.json is a few KiB) and an install's metadata, and a small
	// share of any disk a daemon runs on.
	DefaultLogReserve = "32m"
)

// Options configure the daemon.
type Options struct {
	// Hosts are the API's listeners (-H): unix:///path, tcp://host[:port].
	Hosts []string
	// TLS is for the tcp listeners (--tls, --tlsverify and their files).
	TLS       listen.TLS
	DataRoot  string
	ExecRoot  string
	LogLevel  string
	StopGrace time.Duration
	// LogMaxSize and LogMaxFiles rotate each plugin's output history.
	LogMaxSize  int64
	LogMaxFiles int
	// LogReserve is the free space of the data root that plugin logs
	// leave for the daemon's state.
	LogReserve int64
	CPUProfile string // write a CPU profile here while the daemon runs
	// ObserveAll counts the calls of every plugin while it runs, not only
	// of those set with plugdbg observe (manager.Options.ObserveAll).
	ObserveAll bool
	// InsecureRegistries are reached over plain HTTP (loopback registries
	// always may be).
	InsecureRegistries []string
	// RegistryTimeout bounds each step of a registry request that makes
	// no progress (distribution.Options.Timeout); it must pass
	// distribution.CheckTimeout.
	RegistryTimeout time.Duration
	// Docker interop: the dockerd whose plugins are "docker:NAME"
	// targets, and where plugdbg's plugins are published for it.
	Docker DockerOptions
	// UIAddr is where the web UI listens (host:port); "" disables it.
	UIAddr string
	// MetricsAddr is where Prometheus metrics are served (host:port,
	// docker's --metrics-addr); "" disables them.
	MetricsAddr string
	// SocketGroup may use the unix sockets of Hosts (--group, a name or
	// gid); "" keeps them root's. A missing group is an error only if
	// SocketGroupRequired (the flag was given), as dockerd's --group.
	SocketGroup         string
	SocketGroupRequired bool
}

// Run runs the daemon until ctx ends. Plugins keep running afterwards.
func Run(ctx context.Context, o Options) error {
	if os.Geteuid() != 0 {
		return errors.New("plugdbgd must run as root: it creates containers, mounts and cgroups")
	}
	// Every address, rule and TLS file is checked before anything is
	// touched: a refused configuration leaves nothing behind.
	listeners, err := listen.New(o.Hosts, o.TLS)
	if err != nil {
		return err
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	log := logs.NewDaemonLogger()
	// Plugin lines can come by the hundred thousand per second: buffer the
	// daemon log instead of a write per line, and flush it often.
	out := flushio.New(os.Stderr, 256<<10, 20*time.Millisecond, nil)
	defer out.Close()
	log.SetOutput(out)
	level, err := logrus.ParseLevel(o.LogLevel)
	if err != nil {
		return fmt.Errorf("invalid --log-level %q: %w", o.LogLevel, err)
	}
	log.SetLevel(level)
	if err := distribution.CheckTimeout(o.RegistryTimeout); err != nil {
		return fmt.Errorf("invalid --registry-timeout: %w", err)
	}
	if o.MetricsAddr != "" {
		if err := checkMetricsAddr(o.MetricsAddr); err != nil {
			return err
		}
	}
	gid, groupOK, err := socketGroup(o.SocketGroup, o.SocketGroupRequired)
	if err != nil {
		return err
	}

	// Claim the roots and the listeners before touching the store: a
	// second daemon started by mistake must change nothing. Open closes
	// what it opened if one fails (a tcp address in use), and the
	// deferred unlock releases the roots.
	unlock, err := lockRoots(o.DataRoot, o.ExecRoot)
	if err != nil {
		return err
	}
	defer unlock()
	if err := removeStaleToken(o.ExecRoot); err != nil {
		return err
	}
	lns, err := listeners.Open()
	if err != nil {
		return err
	}
	defer func() {
		for _, ln := range lns {
			ln.Close() // a unix socket's file goes with it, once
		}
	}()
	if groupOK {
		if err := chownSockets(lns, gid, o.SocketGroup, log); err != nil {
			return err
		}
	}

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary for monitors: %w", err)
	}
	launcher := &monitor.Launcher{Binary: monitorBinary(self, log), Root: filepath.Join(o.ExecRoot, "monitors")}
	defer launcher.Close()
	if err := launcher.Seal(); err != nil {
		log.WithError(err).Warnf("monitors run from %s itself: each container start seals a copy of it of its own, which takes longer", launcher.Binary)
	} else {
		log.Debugf("monitors run from a sealed copy of %s", launcher.Binary)
	}
	launcher.Prewarm()
	toolbox, err := container.BuildToolbox(filepath.Join(o.ExecRoot, "toolbox"), container.BusyboxCandidates)
	if err != nil {
		log.WithError(err).Warn("exec: no toolbox; exec into plugins without a shell will fail")
	}
	// One registry client for pulls, pushes and logins (POST /auth), so
	// that --insecure-registry and --registry-timeout hold for all three.
	reg := distribution.New(distribution.Options{
		InsecureRegistries: o.InsecureRegistries,
		UserAgent:          "plugdbg/" + version.Version,
		Timeout:            o.RegistryTimeout,
	})
	hub := new(logs.Hub)
	// The recorder sees the manager's events from the first (restore's),
	// and the API's requests; nil interfaces when metrics are off. The
	// charts' series count restarts from the events too.
	charts := series.New(log)
	var (
		recorder *metrics.Recorder
		observer manager.Observer = charts
		requests api.RequestObserver
	)
	if o.MetricsAddr != "" {
		recorder = metrics.NewRecorder()
		observer, requests = observers{recorder, charts}, recorder
	}
	m, err := manager.New(manager.Options{
		LogHub:      hub,
		PublishDir:  o.Docker.PluginsDir,
		PublishAll:  o.Docker.PublishAll,
		ObserveAll:  o.ObserveAll,
		DataRoot:    o.DataRoot,
		ExecRoot:    o.ExecRoot,
		Log:         log,
		StopGrace:   o.StopGrace,
		LogMaxSize:  o.LogMaxSize,
		LogMaxFiles: o.LogMaxFiles,
		LogReserve:  o.LogReserve,
		Registry:    reg,
		Observer:    observer,
		Executor: &manager.MonitorExecutor{
			Launcher:  launcher,
			StateRoot: filepath.Join(o.ExecRoot, "runc"),
			Toolbox:   toolbox,
		},
	})
	if err != nil {
		return err
	}
	follower := follow.New(m, hub)
	start := time.Now()
	if err := m.Restore(ctx); err != nil {
		log.WithError(err).Warn("restore")
	}
	m.RepublishAll()
	// From the restored plugins' counters on: a plugin first seen later
	// is new, and all its counts are the step's.
	defer startCharts(charts, m, hub)()
	log.Infof("plugdbgd listening on %s; restored plugins in %s", listen.Describe(lns), time.Since(start).Round(time.Millisecond))
	if o.UIAddr != "" {
		stopUI, err := startWebUI(o, backend{m, follower, charts}, log)
		if err != nil {
			log.WithError(err).Warn("web UI disabled")
		} else {
			defer stopUI()
		}
	}
	dh, dhErr := o.Docker.host()
	var dockerObs *dockerobserve.Manager
	if dhErr == nil {
		dockerObs = dockerObserve(ctx, o, dh, self, log)
	}
	if recorder != nil {
		// The calls of observed plugins are read from their recording
		// points, in the monitors (and docker plugins' helpers), at each
		// scrape.
		src := metrics.Sources{Runtime: m, Logs: hub, Recorder: recorder, Calls: m}
		if dockerObs != nil {
			src.Calls = callSources{m, dockerObs}
		}
		if stop, err := serveMetrics(o.MetricsAddr, src, log); err != nil {
			log.WithError(err).Warn("metrics disabled")
		} else {
			defer stop()
		}
	}
	_ = out.Flush() // what restore did is in the log before the first request

	handler := api.New(m, follower, log)
	handler.WithRegistry(reg)
	if ui, err := apiWebUI(backend{m, follower, charts}, log); err != nil {
		log.WithError(err).Warn("plugdbg ui disabled")
	} else {
		defer ui.Close()
		handler.WithUI(ui)
	}
	if dhErr != nil {
		log.WithError(dhErr).Warn("docker interop disabled")
	} else {
		handler.WithDocker(dh, toolbox).WithDockerObserve(dockerObs)
	}
	// Refused handshakes (no client certificate, a foreign CA) are the
	// server's to report, in the daemon log.
	errLog := log.WriterLevel(logrus.WarnLevel)
	defer errLog.Close()
	// One server for every listener: Shutdown closes them all.
	srv := &http.Server{
		// What the daemon logged about a request is out when it returns,
		// not up to a flush interval later.
		Handler: api.Instrument(api.RefuseBrowsers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handler.ServeHTTP(w, r)
			_ = out.Flush()
		})), requests),
		// Also bounds a tcp listener's TLS handshake.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdlog.New(errLog, "api: ", 0),
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve API on %s: %w", ln.URL, err)
			}
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		_ = srv.Close()
		m.Shutdown()
		return err
	}
	log.Info("daemon stopping; plugins keep running")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.StopTraces() // put traced plugin sockets back while the proxies can still be stopped
	_ = srv.Shutdown(shutCtx)
	m.Shutdown()
	return nil
}

// lockWait is how long a root's lock held by someone else is tried again
// before it is taken for another daemon's. A daemon killed while it
// started a process (a monitor) leaves its lock with that child until the
// child's exec closes the child's copy of the descriptor: a moment, but
// milliseconds on a loaded machine, and a daemon restarted at once would
// refuse to start.
const lockWait = 3 * time.Second

// flockWait takes an exclusive flock on f, trying again every few
// milliseconds for up to wait while another holds it.
func flockWait(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockHolder is the pid the daemon holding f's lock wrote into it, or 0.
func lockHolder(f *os.File) int {
	b := make([]byte, 16)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// lockRoots takes an exclusive lock on each root directory, so that two
// daemons never manage the same plugins, and returns the release.
func lockRoots(roots ...string) (func(), error) {
	var held []*os.File
	release := func() {
		for _, f := range held {
			f.Close()
		}
	}
	for _, root := range roots {
		if err := os.MkdirAll(root, 0o700); err != nil {
			release()
			return nil, fmt.Errorf("create %s: %w", root, err)
		}
		path := filepath.Join(root, "plugdbg.lock")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			release()
			return nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		if err := flockWait(f, lockWait); err != nil {
			holder := ""
			if pid := lockHolder(f); pid > 0 {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
			f.Close()
			release()
			return nil, fmt.Errorf("plugdbgd is already running%s on %s (lock %s held: %w); stop it first, or give this one other --data-root and --exec-root", holder, root, path, err)
		}
		held = append(held, f)
		// The holder's pid, for the message above and for scripts/run.sh:
		// written under the lock, so a reader sees it once it finds the
		// lock held (a lock file of an older daemon may hold nothing).
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return release, nil
}

// MonitorBinaryName is the monitor's own binary, which the daemon runs from
// beside itself (cmd/plugdbgd-monitor).
const MonitorBinaryName = "plugdbgd-monitor"

// monitorBinary returns the monitor binary beside self, the daemon's own
// binary. Without it, monitors and container inits run from self, which
// has the same hidden modes: everything works, each container start just
// pays for the daemon's larger binary twice, so the daemon says so.
func monitorBinary(self string, log *logrus.Logger) string {
	bin := filepath.Join(filepath.Dir(self), MonitorBinaryName)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin
	}
	log.Warnf("no %s beside %s: monitors and container inits run from plugdbgd itself, which starts containers slower (make build puts both in build/)", MonitorBinaryName, self)
	return self
}
