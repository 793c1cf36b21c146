package client

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// connTransport makes each request on a new connection of its own, on the
// caller's goroutine: it writes the request, then reads the answer. It is
// the transport of a unix:// daemon, where a connection costs one
// connect(2). net/http's Transport dials on a goroutine of its own and
// hands every request to the connection's write goroutine and every answer
// back from its read goroutine; for the one call most commands make, those
// handoffs (each waking a thread) were most of what the client did besides
// starting. A tcp:// or ssh:// daemon, whose connections cost a handshake
// or a process, keeps net/http's Transport and its reuse of connections.
type connTransport struct {
	dial dialer
}

func (t connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	conn, err := t.dial(ctx)
	if err != nil {
		// Marked, so that send tells "no daemon" from "the daemon went
		// away while answering".
		return nil, dialError{err}
	}
	// The context's end closes the connection, which ends a write or a
	// read that blocks on it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	var wrote chan error
	if req.Body == nil || req.Body == http.NoBody {
		if err := req.Write(conn); err != nil {
			return fail(err)
		}
	} else {
		// The daemon may answer before it has read the whole body (a
		// build context it refuses): the body is written on a goroutine
		// of its own, as net/http does, so that the answer is read
		// whatever becomes of the write.
		wrote = make(chan error, 1)
		go func() { wrote <- req.Write(conn) }()
	}
	br := bufio.NewReader(conn)
	// A connection closed before the first byte of an answer is io.EOF,
	// as net/http's Transport says it (ReadResponse would say "unexpected").
	_, err = br.Peek(1)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		if wrote != nil {
			conn.Close() // ends the write, if it still blocks
			<-wrote
		}
		return fail(err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop, wrote: wrote}
	return resp, nil
}

// connBody is an answer's body; closing it closes its connection.
type connBody struct {
	io.ReadCloser
	conn  net.Conn
	stop  func() bool
	wrote chan error // the request body's write, if it has one
	once  sync.Once
}

func (b *connBody) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
		if b.wrote != nil {
			<-b.wrote
		}
	})
	return nil
}
