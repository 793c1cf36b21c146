package probe

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"syscall"
	"time"
)

// connCaller makes one call after another on a kept-alive connection of
// its own to a unix target (or one Target.Dial reaches), writing the
// request and reading the answer on the calling goroutine. net/http's
// Transport hands every call to a connection's read and write goroutines
// and back, three goroutine switches a call, which is what made --repeat
// slower than a plain client at one call in flight; here there are none.
// The request's bytes are made once, by net/http itself (Request.Write),
// so they are what Do sends. Not safe for concurrent use: one per worker.
type connCaller struct {
	c      *Client
	method string
	url    string
	body   []byte
	req    []byte // the request as it goes on the wire
	conn   net.Conn
	br     *bufio.Reader
}

// newConnCaller returns a caller of method with body on c's target, which
// must be reachable by c.dial (a unix socket, or Target.Dial).
func newConnCaller(c *Client, method string, body []byte) (*connCaller, error) {
	req, err := c.newRequest(context.Background(), method, body)
	if err != nil {
		return nil, err
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return nil, &TransportError{Method: method, Err: err}
	}
	return &connCaller{c: c, method: method, url: req.URL.String(), body: body, req: wire.Bytes()}, nil
}

// call makes the call once, bounded by ctx: when ctx ends the connection's
// deadline passes, and the step under way fails with ctx's error. A
// kept-alive connection that the plugin closed while it was idle is
// noticed before the request is written, and a new one is dialled: the
// request is never sent twice.
func (k *connCaller) call(ctx context.Context) (*Response, error) {
	r, err := k.try(ctx)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		return nil, &TransportError{Method: k.method, Err: err}
	}
	return r, nil
}

// aLongTimeAgo is a deadline that has passed: the step under way fails.
var aLongTimeAgo = time.Unix(1, 0)

func (k *connCaller) try(ctx context.Context) (*Response, error) {
	start := time.Now()
	if k.conn != nil && !k.idleAlive() {
		k.close()
	}
	if k.conn == nil {
		conn, err := k.c.dial(ctx)
		if err != nil {
			return nil, err
		}
		k.conn, k.br = conn, bufio.NewReader(conn)
	}
	conn := k.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	resp, data, err := k.exchange()
	if !stop() || err != nil || resp.Close {
		// The deadline may have passed: the connection is done for.
		k.close()
	}
	if err != nil {
		return nil, err
	}
	return &Response{
		Method: k.method, URL: k.url, RequestBody: k.body,
		Proto: resp.Proto, Status: resp.StatusCode, StatusText: resp.Status,
		Header: resp.Header, Body: data, Elapsed: time.Since(start),
	}, nil
}

// idleAlive reports whether the idle connection is still usable: nothing
// to read on it, neither its end (the plugin closed it) nor bytes no
// request asked for. It looks without waiting (peekIdle); a connection
// it cannot look at is taken as alive.
func (k *connCaller) idleAlive() bool {
	if k.br.Buffered() > 0 {
		return false
	}
	sc, ok := k.conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	return peekIdle(rc)
}

// exchange writes the request and reads the whole answer.
func (k *connCaller) exchange() (*http.Response, []byte, error) {
	if _, err := k.conn.Write(k.req); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := k.c.readAnswer(resp)
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

func (k *connCaller) close() {
	if k.conn != nil {
		k.conn.Close()
		k.conn, k.br = nil, nil
	}
}
