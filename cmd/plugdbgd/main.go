// Command plugdbgd is plugdbg's daemon: the plugin runtime, its API on a
// unix socket, and the hidden modes it re-executes itself in (container
// init, per-plugin monitor). It needs root, Linux and cgo; the client,
// plugdbg, needs none of them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/opencontainers/cgroups/devices" // libcontainer needs it to apply device rules
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugdbg/plugdbg/runtime/dockerobserve"
	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// init dispatches the binary's hidden modes before cobra sees the arguments:
// libcontainer re-executes this binary (/proc/self/exe) as "init" inside
// each new container, and the daemon starts it (os.Executable) as a
// per-plugin monitor and as the helper of an observed docker plugin.
func init() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "init":
		libcontainer.Init() // never returns
	case monitor.Argv1:
		os.Exit(monitor.Main(os.Args[2:]))
	case dockerobserve.Argv1:
		os.Exit(dockerobserve.Main(os.Args[2:]))
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
