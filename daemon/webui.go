package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/plugdbg/plugdbg/logs/follow"
	"github.com/plugdbg/plugdbg/runtime/manager"
	"github.com/plugdbg/plugdbg/runtime/series"
	"github.com/plugdbg/plugdbg/webui"
)

// backend is what the web UI shows and drives: the manager's plugins and
// their lifecycle, their lines as the follower reads them, and their
// series for the charts.
type backend struct {
	*manager.Manager
	*follow.Follower
	charts *series.Store
}

// removeStaleToken removes the token file a daemon killed without a
// chance to clean up left in execRoot. The caller holds the roots' lock,
// so the file is no running daemon's; a UI that fails to start, or is
// disabled, then leaves no token of a former run to be read.
func removeStaleToken(execRoot string) error {
	err := os.Remove(filepath.Join(execRoot, webui.TokenFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale web UI token: %w", err)
	}
	return nil
}

// startWebUI serves the web UI on o.UIAddr until the returned function is
// called. The UI is an aid, not the runtime: if its address is taken the
// daemon runs on without it, and says so.
func startWebUI(o Options, b backend, log *logrus.Logger) (stop func(), err error) {
	token, err := webui.NewToken()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.UIAddr)
	if err != nil {
		return nil, fmt.Errorf("web UI: %w", err)
	}
	addr := ln.Addr().String()
	path, err := webui.WriteToken(o.ExecRoot, token)
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv, err := webui.New(webui.Options{Backend: b, Token: token, Assets: webui.Assets(), Log: log, Addr: addr, Charts: b.charts})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if !webui.Built() {
		log.Warn("web UI: this binary has no UI bundle (build it with `make webui`); serving a placeholder page")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := webui.Serve(ctx, ln, srv); err != nil {
			log.WithError(err).Error("web UI stopped")
		}
	})
	log.Infof("web UI: %s (token also in %s)", webui.URL(addr, token), path)
	return func() {
		cancel()
		wg.Wait()
		// The token is good for this run only: a file left behind would
		// point scripts and users at a daemon that is gone.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.WithError(err).Warn("web UI: remove token file")
		}
	}, nil
}

// apiWebUI is the web UI the API serves under /ui on each of its
// listeners, for plugdbg ui to relay: access to the API's connection is
// the credential there, so it asks for no token.
func apiWebUI(b backend, log *logrus.Logger) (*webui.Server, error) {
	srv, err := webui.New(webui.Options{Backend: b, Trusted: true, Assets: webui.Assets(), Log: log, Charts: b.charts})
	if err != nil {
		return nil, fmt.Errorf("web UI on the API: %w", err)
	}
	return srv, nil
}
