// Package plugsock holds what every test plugin does the same way: listen
// where a managed-plugin runtime looks for the socket, and stop cleanly when
// the runtime sends SIGTERM.
package plugsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/docker/go-plugins-helpers/sdk"
)

// Dir is the directory inside the plugin's container where the runtime
// bind-mounts its per-plugin socket directory; config.json's interface.socket
// names a file in it.
const Dir = "/run/docker/plugins"

// Path returns the in-container path of the socket named by interface.socket.
func Path(socket string) string { return filepath.Join(Dir, socket) }

// TermContext returns a context cancelled by SIGTERM or SIGINT. Call it first
// in main: until a handler is installed, a Go program that is PID 1 of its pid
// namespace turns SIGTERM into exit status 2 instead of a clean exit.
func TermContext() context.Context {
	ctx, _ := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	return ctx
}

// Listen listens on the unix socket at path. It removes a stale socket file
// first, because a plugin run by hand (not under a runtime that wipes the
// directory on exit) would otherwise fail with "address already in use".
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

// Serve runs serve on l until ctx is cancelled, then closes l, which also
// unlinks the socket file, and returns nil. It returns serve's error if
// serving stops on its own.
func Serve(ctx context.Context, l net.Listener, serve func(net.Listener) error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve(l) }()
	select {
	case <-ctx.Done():
		l.Close()
		<-errc // "use of closed network connection": expected, not a failure
		return nil
	case err := <-errc:
		l.Close()
		return err
	}
}

// Run is the main of a plugin that only serves: it listens on the socket
// named by interface.socket, says so on stdout as "<name> listening on
// <path>", serves until SIGTERM, and exits 1 if it cannot.
func Run(ctx context.Context, name, socket string, serve func(net.Listener) error) {
	path := Path(socket)
	l, err := Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Println(name, "listening on", path)
	if err := Serve(ctx, l, serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

// VolumeStub is a handler that answers Plugin.Activate as a volume driver
// and just enough of VolumeDriver (Capabilities, an empty List) for a
// daemon's first calls to succeed: for test plugins that are about
// something else (output, crashes) but must look like a real plugin.
func VolumeStub() *sdk.Handler {
	h := sdk.NewHandler(`{"Implements": ["VolumeDriver"]}`)
	h.HandleFunc("/VolumeDriver.Capabilities", func(w http.ResponseWriter, _ *http.Request) {
		sdk.EncodeResponse(w, map[string]any{"Capabilities": map[string]string{"Scope": "local"}}, false)
	})
	h.HandleFunc("/VolumeDriver.List", func(w http.ResponseWriter, _ *http.Request) {
		sdk.EncodeResponse(w, map[string]any{"Volumes": []any{}}, false)
	})
	return &h
}
