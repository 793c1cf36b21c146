// Package oneconn sends an HTTP/1.1 request on a connection of its own,
// written and read on the caller's goroutine. For a unix socket, where a
// connection costs one connect(2), that is cheaper than net/http's
// Transport, which dials on a goroutine of its own and hands every request
// to the connection's write goroutine and every answer back from its read
// goroutine: for one call, those handoffs (each waking a thread) cost more
// than the call.
package oneconn

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// RoundTrip sends req on conn, which it owns from then on, and reads the
// answer; the answer's Body closes conn. req's context bounds every step:
// when it ends, conn is closed, the step under way fails and the error is
// the context's.
func RoundTrip(conn net.Conn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	var wrote chan error
	if req.Body == nil || req.Body == http.NoBody {
		if err := req.Write(conn); err != nil {
			return fail(err)
		}
	} else {
		// The server may answer before it has read the whole body (one it
		// refuses): the body is written on a goroutine of its own, as
		// net/http does, so that the answer is read whatever becomes of
		// the write.
		wrote = make(chan error, 1)
		go func() { wrote <- req.Write(conn) }()
	}
	br := bufio.NewReader(conn)
	// A connection closed before the first byte of an answer is io.EOF,
	// as net/http's Transport says it (ReadResponse would say "unexpected").
	_, err := br.Peek(1)
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
	resp.Body = &body{ReadCloser: resp.Body, ctx: ctx, conn: conn, stop: stop, wrote: wrote}
	return resp, nil
}

// body is an answer's body read straight from its connection; closing it
// closes the connection.
type body struct {
	io.ReadCloser
	ctx   context.Context
	conn  net.Conn
	stop  func() bool
	wrote chan error // the request body's write, if it has one
	once  sync.Once
}

// Read says a read that failed because the context ended with the
// context's error.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
		if b.wrote != nil {
			<-b.wrote
		}
	})
	return nil
}
