package client

import (
	"net/http"

	"github.com/plugdbg/plugdbg/internal/oneconn"
)

// connTransport makes each request on a new connection of its own, on the
// caller's goroutine (package oneconn). It is the transport of a unix://
// daemon, where a connection costs one connect(2): for the one call most
// commands make, net/http's Transport's goroutine handoffs were most of
// what the client did besides starting. A tcp:// or ssh:// daemon, whose
// connections cost a handshake or a process, keeps net/http's Transport
// and its reuse of connections.
type connTransport struct {
	dial dialer
}

func (t connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := t.dial(req.Context())
	if err != nil {
		// Marked, so that send tells "no daemon" from "the daemon went
		// away while answering".
		return nil, dialError{err}
	}
	return oneconn.RoundTrip(conn, req)
}
