package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/runtime/metrics"
)

// checkMetricsAddr refuses a --metrics-addr that is not HOST:PORT, before
// the daemon changes anything.
func checkMetricsAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(port, 10, 16); err == nil && port != strconv.FormatUint(n, 10) {
			err = errors.New("the port must be a number")
		}
	}
	if err != nil {
		return fmt.Errorf("invalid --metrics-addr %q: want HOST:PORT, such as 127.0.0.1:9323: %w", addr, err)
	}
	return nil
}

// startMetrics serves reg's metrics (metrics.Handler) on addr until the
// returned function is called, and logs the address it bound (addr's port
// may be 0). The metrics are an aid, as the web UI is: if the address is
// taken, the caller runs on without them and says so. An address off the
// loopback interface is served, since Prometheus scrapes from other hosts,
// with a warning: the endpoint has no authentication.
func startMetrics(addr string, reg *prometheus.Registry, log *logrus.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if exposed(ln.Addr()) {
		log.Warnf("metrics: %s is not a loopback address: whoever reaches it can read the metrics, without authentication (they name the plugins and count what they do)", ln.Addr())
	}
	srv := &http.Server{
		Handler:           metrics.Handler(reg, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Error("metrics stopped")
		}
	})
	log.Infof("metrics: Prometheus metrics on http://%s/metrics", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		wg.Wait()
	}, nil
}

// exposed reports whether a bound address is reachable from other hosts:
// one that is not a loopback address (0.0.0.0 and :: are every interface).
func exposed(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return !ok || !tcp.IP.IsLoopback()
}

// serveMetrics builds the registry of s (plugdbg's metrics, the Go
// runtime's and the process's) and serves it on addr (startMetrics).
func serveMetrics(addr string, s metrics.Sources, log *logrus.Logger) (stop func(), err error) {
	reg, err := metrics.NewRegistry(s)
	if err != nil {
		return nil, err
	}
	return startMetrics(addr, reg, log)
}
