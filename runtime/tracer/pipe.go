package tracer

import (
	"net"
	"sync"
)

// bufSize is one read of a proxied connection.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Proxy forwards the bytes of client to up and those of up to client,
// unchanged, until both directions have ended, parsing them as they pass;
// each end is closed for writing once the other has ended. c is freed
// once Proxy returns, and must not be used after; the caller closes the
// connections.
func (c *Conn) Proxy(client, up *net.UnixConn) {
	defer c.free()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(up, client, &c.req, nil)
	}()
	pipe(client, up, &c.resp, c.answersEnded)
	<-done
	c.finish(c.now())
}

// pipe copies src to dst until src ends, feeding parse with each read,
// then closes dst for writing. An answer is parsed before it is forwarded,
// so that a call is counted by the time its client has the answer; a
// request is parsed before it is forwarded, so that it is queued before
// its answer can come. ended, if not nil, is the direction of the answers:
// it is called when src has ended, before dst is closed, so that an answer
// that ends with the connection is counted before its client sees the end.
func pipe(dst, src *net.UnixConn, parse *parser, ended func(now int64)) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			parse.feed(buf[:n], parse.c.now())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				if ended != nil {
					// The client is gone: take the plugin's answers still
					// coming, so that it is not blocked writing them.
					drain(src, parse, buf)
				}
				break
			}
		}
		if err != nil {
			break
		}
	}
	if ended != nil {
		ended(parse.c.now())
	}
	_ = dst.CloseWrite()
}

// drain reads src to its end, still parsing what it answers.
func drain(src *net.UnixConn, parse *parser, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			parse.feed(buf[:n], parse.c.now())
		}
		if err != nil {
			return
		}
	}
}
