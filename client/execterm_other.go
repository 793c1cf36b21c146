//go:build !unix

package client

import (
	"os"

	"github.com/containerd/console"
)

// ForwardedSignals are the signals an attached exec passes on to the
// process instead of acting on them itself: those a console delivers here.
var ForwardedSignals = []os.Signal{os.Interrupt}

// resizeSignals: no signal tells of a resized console here, so a TTY exec
// keeps the size it started with.
var resizeSignals []os.Signal

// makeRaw puts the user's console in raw mode.
func makeRaw(c console.Console) error { return c.SetRaw() }
