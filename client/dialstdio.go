package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// ErrNoDaemon is the kind of Relay's failure to reach the daemon at all.
var ErrNoDaemon = errors.New("no daemon")

// Relay joins in and out to a new connection to the daemon's API, the
// remote end of an ssh:// host (plugdbg dial-stdio). Each direction is
// half-closed when its source ends, so that a request whose body is read
// to its end still gets its whole answer. It returns when the daemon's
// side has ended; an input still open then (a terminal) is left to the
// caller's exit.
func (c *Client) Relay(ctx context.Context, in io.Reader, out io.Writer) error {
	conn, err := c.Dial(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoDaemon, err)
	}
	defer conn.Close()
	inDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		inDone <- err
	}()
	_, err = io.Copy(out, conn)
	if cw, ok := out.(interface{ Close() error }); ok {
		_ = cw.Close()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("relay from daemon: %w", err)
	}
	select {
	case err := <-inDone:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("relay to daemon: %w", err)
		}
	default:
	}
	return nil
}
