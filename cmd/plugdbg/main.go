// Command plugdbg runs and debugs Docker-style managed plugins.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/opencontainers/cgroups/devices" // libcontainer needs it to apply device rules
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugdbg/plugdbg/runtime/monitor"
)

// init dispatches the binary's hidden modes before cobra sees the arguments:
// libcontainer re-executes this binary as "init" inside each new container,
// and the daemon starts it as a per-plugin monitor.
func init() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "init":
		libcontainer.Init() // never returns
	case monitor.Argv1:
		os.Exit(monitor.Main(os.Args[2:]))
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Execute(ctx)
	stop()
	os.Exit(code)
}
