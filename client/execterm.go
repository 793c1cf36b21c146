package client

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/console"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// ExecStreams are the terminal or pipes an attached exec uses.
type ExecStreams struct {
	Stdin          *os.File // read only with Config.AttachStdin
	Stdout, Stderr io.Writer
	// Terminal is the terminal whose size and mode a TTY exec follows, if
	// the user is at one (usually stdin's).
	Terminal *os.File
}

// ExecAttached runs cfg.Cmd in plugin ref attached to the given streams and
// returns its exit status. With cfg.Tty and a terminal, the terminal is put
// in raw mode (restored on return) so that keys such as Ctrl-C and Ctrl-D
// reach the process, and its size is sent at start and on every SIGWINCH.
// The signals in ForwardedSignals that this process receives are sent on
// to the process. ctx bounds the start only: once started, the session
// lasts until the process exits.
func (c *Client) ExecAttached(ctx context.Context, ref string, cfg types.ExecConfig, s ExecStreams) (types.ExecExit, error) {
	var term console.Console
	if cfg.Tty && s.Terminal != nil {
		if t, err := console.ConsoleFromFile(s.Terminal); err == nil {
			term = t
			if ws, err := t.Size(); err == nil && ws.Height > 0 && ws.Width > 0 {
				cfg.Height, cfg.Width = ws.Height, ws.Width
			}
		}
	}
	// Catch the signals before the start, so that none is lost between.
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, ForwardedSignals...)
	defer signal.Stop(sigc)
	winch := make(chan os.Signal, 1)
	if term != nil && len(resizeSignals) > 0 { // Notify of none would relay every signal
		signal.Notify(winch, resizeSignals...)
		defer signal.Stop(winch)
	}

	sess, err := c.Exec(ctx, ref, cfg)
	if err != nil {
		return types.ExecExit{}, err
	}
	if term != nil && cfg.AttachStdin {
		if err := makeRaw(term); err == nil {
			defer term.Reset()
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-sigc:
				_ = sess.Signal(execproto.SignalName(sig.(syscall.Signal)))
			case <-winch:
				if ws, err := term.Size(); err == nil && ws.Height > 0 && ws.Width > 0 {
					_ = sess.Resize(ws.Height, ws.Width)
				}
			}
		}
	}()
	var stdin io.Reader
	if cfg.AttachStdin && s.Stdin != nil {
		stdin = s.Stdin
	}
	stderr := s.Stderr
	if cfg.Tty {
		stderr = nil // a TTY has one output stream
	}
	return sess.Stream(stdin, s.Stdout, stderr)
}
