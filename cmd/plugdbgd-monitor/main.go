// Command plugdbgd-monitor is the per-plugin monitor process, and the init
// that libcontainer re-executes inside each plugin container. plugdbgd
// starts it from beside itself.
//
// It is a binary of its own, not plugdbgd re-executed, because a container
// start runs it twice on the critical path (the monitor, then its init):
// every package a binary links runs its init functions on each of those
// executions, and plugdbgd links the API server, the registry client and
// the metrics registry, whose regexps and collectors a monitor never needs.
package main

import (
	"fmt"
	"os"

	_ "github.com/opencontainers/cgroups/devices" // libcontainer needs it to apply device rules
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/plugdbg/plugdbg/runtime/monitor"
)

func main() {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "init":
			libcontainer.Init() // never returns
		case monitor.Argv1:
			os.Exit(monitor.Main(os.Args[2:]))
		}
	}
	fmt.Fprintf(os.Stderr, "%s is started by plugdbgd (as %q), not by hand\n", os.Args[0], monitor.Argv1)
	os.Exit(2)
}
