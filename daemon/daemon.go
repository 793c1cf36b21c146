// Package daemon wires the runtime together: it opens the plugin manager,
// restores enabled plugins and serves the API until its context ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/logs"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// Default locations, beside Docker's own.
const (
	DefaultDataRoot = "/var/lib/plugdbg"
	DefaultExecRoot = "/run/plugdbg"
)

// Options configure the daemon.
type Options struct {
	Host      string // unix:///path
	DataRoot  string
	ExecRoot  string
	LogLevel  string
	StopGrace time.Duration
}

// Run runs the daemon until ctx ends. Plugins keep running afterwards.
func Run(ctx context.Context, o Options) error {
	if os.Geteuid() != 0 {
		return errors.New("plugdbg daemon must run as root: it creates containers, mounts and cgroups")
	}
	sock, ok := strings.CutPrefix(o.Host, "unix://")
	if !ok {
		return fmt.Errorf("invalid host %q: only unix:///path is supported", o.Host)
	}
	log := logs.NewDaemonLogger()
	level, err := logrus.ParseLevel(o.LogLevel)
	if err != nil {
		return fmt.Errorf("invalid --log-level %q: %w", o.LogLevel, err)
	}
	log.SetLevel(level)

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary for monitors: %w", err)
	}
	launcher := &monitor.Launcher{Binary: self, Root: filepath.Join(o.ExecRoot, "monitors")}
	defer launcher.Close()
	launcher.Prewarm()
	m, err := manager.New(manager.Options{
		DataRoot:  o.DataRoot,
		ExecRoot:  o.ExecRoot,
		Log:       log,
		StopGrace: o.StopGrace,
		Executor: &manager.MonitorExecutor{
			Launcher:  launcher,
			StateRoot: filepath.Join(o.ExecRoot, "runc"),
		},
	})
	if err != nil {
		return err
	}
	ln, err := api.Listen(sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock)
	start := time.Now()
	if err := m.Restore(ctx); err != nil {
		log.WithError(err).Warn("restore")
	}
	log.Infof("plugdbg daemon listening on %s (restored plugins in %s)", sock, time.Since(start).Round(time.Millisecond))

	srv := &http.Server{Handler: api.New(m, log), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		m.Shutdown()
		return fmt.Errorf("serve API: %w", err)
	}
	log.Info("daemon stopping; plugins keep running")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	m.Shutdown()
	return nil
}
