// Package observe is the recording point of an observed plugin: a proxy on
// the plugin's unix socket that forwards every byte unchanged and, as the
// bytes pass, parses the HTTP/1.1 calls (keep-alive, pipelined, chunked or
// not) to count them per method and status and time them (Stats). It runs
// in the plugin's monitor, so that it keeps counting, and the plugin stays
// reachable, while no daemon runs.
//
// The proxy takes the socket's path the way a trace does (package tracer):
// it listens beside the plugin's socket and swaps the two names in one
// step (renameat2 RENAME_EXCHANGE), so that a client dialling the path
// reaches either the plugin or the proxy, never nothing. A trace put on an
// observed plugin stacks on top of it, and an observed plugin's point goes
// under a trace already there: both count every call.
package observe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/runtime/sockwatch"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// AsidePath is where the plugin's socket at path is moved while observed:
// ".observe" in the same directory, a short name, because the plugin's
// socket path may already be near the 107-byte limit of unix socket paths.
func AsidePath(path string) string { return filepath.Join(filepath.Dir(path), ".observe") }

// bufSize is one read of a proxied connection.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// drainQueue is how long Remove keeps accepting after the swap, for
// clients already queued on the proxy's socket.
const drainQueue = 100 * time.Millisecond

// Point is a recording point in place on a plugin's socket.
type Point struct {
	socket string // the plugin's socket path, which clients dial
	aside  string // where the plugin's socket is while observed
	stats  *Stats
	ino    uint64 // inode of the proxy's socket file
	ln     *net.UnixListener
	done   chan struct{} // closed when the accept loop has ended
	wg     sync.WaitGroup

	// upMu guards upstream, the name the plugin's socket has: aside, and
	// once Remove swapped the names back, the name the proxy had. Dials
	// hold it for reading, so that none dials a name mid-swap.
	upMu     sync.RWMutex
	upstream string

	mu      sync.Mutex
	removed bool
}

// Install puts a recording point on the plugin socket at path, counting
// into stats. Once it returns, every call made on path is counted. A
// trace's proxy already on path stays in front: the point goes between it
// and the plugin.
func Install(path string, stats *Stats) (*Point, error) {
	aside := AsidePath(path)
	if len(aside) > 107 {
		return nil, fmt.Errorf("observe %s: the moved socket path would be %d bytes, over the 107 a unix socket allows", path, len(aside))
	}
	// The name that holds the plugin's own socket: the trace's when a
	// trace runs, else the path.
	at := path
	if fi, err := os.Lstat(tracer.AsidePath(path)); err == nil && fi.Mode().Type() == os.ModeSocket {
		at = tracer.AsidePath(path)
	}
	fi, err := os.Lstat(at)
	if err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("observe: %s is not a socket", at)
	}
	if _, err := os.Lstat(aside); err == nil {
		return nil, fmt.Errorf("observe: %s exists: is the socket already observed?", aside)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: aside, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("observe: listen on %s: %w", aside, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(aside, fi.Mode().Perm()); err != nil {
		ln.Close()
		os.Remove(aside)
		return nil, fmt.Errorf("observe: %w", err)
	}
	if err := sockwatch.Exchange(aside, at); err != nil {
		ln.Close()
		os.Remove(aside)
		return nil, fmt.Errorf("observe: swap %s and %s: %w", at, aside, err)
	}
	p := &Point{socket: path, aside: aside, stats: stats, ino: sockwatch.Inode(at), ln: ln, done: make(chan struct{}), upstream: aside}
	go p.accept()
	return p, nil
}

// Remove puts the plugin's socket back where the point took its name (the
// names are swapped back in one step), serves the connections already
// queued on the point, then stops accepting. Connections open through the
// point keep working, and are counted, until their clients close them;
// Remove does not wait for them (Wait does).
func (p *Point) Remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed {
		return nil
	}
	p.removed = true
	// The proxy's socket is at the path, or at the trace's name if a
	// trace came on top of the point.
	at := ""
	for _, name := range []string{p.socket, tracer.AsidePath(p.socket)} {
		if sockwatch.Inode(name) == p.ino {
			at = name
			break
		}
	}
	var err error
	p.upMu.Lock()
	if at != "" {
		if xerr := sockwatch.Exchange(p.aside, at); xerr != nil {
			// A rename over the proxy's socket still restores the plugin's.
			if rerr := os.Rename(p.aside, at); rerr != nil {
				err = fmt.Errorf("observe: restore %s: %w", at, errors.Join(xerr, rerr))
			}
		}
		if err == nil {
			p.upstream = at
		}
	}
	p.upMu.Unlock()
	// Clients that connected before the swap wait in the listen queue:
	// serve them rather than reset them. Nothing new can arrive.
	_ = p.ln.SetDeadline(time.Now().Add(drainQueue))
	<-p.done
	if err == nil && at != "" && sockwatch.Inode(p.aside) == p.ino {
		_ = os.Remove(p.aside)
	}
	return err
}

// Wait waits until the point is removed and every connection through it
// has ended.
func (p *Point) Wait() {
	<-p.done
	p.wg.Wait()
}

func (p *Point) accept() {
	defer close(p.done)
	defer p.ln.Close()
	for {
		c, err := p.ln.AcceptUnix()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // the drain after Remove is over
			}
			p.mu.Lock()
			removed := p.removed
			p.mu.Unlock()
			if removed || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: the client is refused, not the point.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve proxies one client connection to the plugin, parsing each
// direction as it passes.
func (p *Point) serve(client *net.UnixConn) {
	defer p.wg.Done()
	defer client.Close()
	p.upMu.RLock()
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.upstream, Net: "unix"})
	p.upMu.RUnlock()
	if err != nil {
		return // the client sees its connection closed, as the plugin's refusal
	}
	defer up.Close()
	c := newConn(p.stats)
	defer c.free()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(up, client, &c.req, p.stats, nil)
	}()
	pipe(client, up, &c.resp, p.stats, c.answersEnded)
	<-done
	c.finish(p.stats.now())
}

// pipe copies src to dst until src ends, feeding parse with each read,
// then closes dst for writing. An answer is parsed before it is forwarded,
// so that a call is counted by the time its client has the answer; a
// request is parsed before it is forwarded, so that it is queued before
// its answer can come. ended, if not nil, is the direction of the answers:
// it is called when src has ended, before dst is closed, so that an answer
// that ends with the connection is counted before its client sees the end.
func pipe(dst, src *net.UnixConn, parse *parser, s *Stats, ended func(now int64)) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			parse.feed(buf[:n], s.now())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				if ended != nil {
					// The client is gone: take the plugin's answers still
					// coming, so that it is not blocked writing them.
					drain(src, parse, s, buf)
				}
				break
			}
		}
		if err != nil {
			break
		}
	}
	if ended != nil {
		ended(s.now())
	}
	_ = dst.CloseWrite()
}

// drain reads src to its end, still counting what it answers.
func drain(src *net.UnixConn, parse *parser, s *Stats, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			parse.feed(buf[:n], s.now())
		}
		if err != nil {
			return
		}
	}
}
