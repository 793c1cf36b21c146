// Command plugdbg is the client of plugdbgd: it runs and debugs Docker-style
// managed plugins through the daemon's API. It is pure Go (no cgo, no
// runtime packages), so it cross-compiles to every platform Go knows.
package main

import (
	"context"
	"os"
)

func main() {
	// SIGINT and SIGTERM end the context of the commands that have
	// something to end cleanly; see oneShotKey.
	os.Exit(Execute(context.Background()))
}
