// Command plugdbg is the client of plugdbgd: it runs and debugs Docker-style
// managed plugins through the daemon's API. It is pure Go (no cgo, no
// runtime packages), so it cross-compiles to every platform Go knows.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Execute(ctx)
	stop()
	os.Exit(code)
}
