// Package observe is the recording point of an observed plugin: a proxy on
// the plugin's unix socket that forwards every byte unchanged and, as the
// bytes pass, parses the HTTP/1.1 calls (keep-alive, pipelined, chunked or
// not; tracer.Conn) to count them per method and status and time them
// (Stats), and, while a trace is attached (Point.Trace), to record them as
// a trace's proxy would. It runs in the plugin's monitor, so that it keeps
// counting, and the plugin stays reachable, while no daemon runs.
//
// The proxy takes the socket's path the way a trace does (package tracer):
// it listens beside the plugin's socket and swaps the two names in one
// step (renameat2 RENAME_EXCHANGE), so that a client dialling the path
// reaches either the plugin or the proxy, never nothing. A trace's proxy
// put on an observed plugin stacks on top of it (the daemon does so only
// when the point cannot stream its records), and an observed plugin's
// point goes under a trace's proxy already there: both see every call.
package observe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/sockwatch"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// AsidePath is where the plugin's socket at path is moved while observed:
// ".observe" in the same directory, a short name, because the plugin's
// socket path may already be near the 107-byte limit of unix socket paths.
func AsidePath(path string) string { return filepath.Join(filepath.Dir(path), ".observe") }

// drainQueue is how long Remove keeps accepting after the swap, for
// clients already queued on the proxy's socket.
const drainQueue = 100 * time.Millisecond

// Point is a recording point in place on a plugin's socket.
type Point struct {
	socket string // the plugin's socket path, which clients dial
	aside  string // where the plugin's socket is while observed
	stats  *Stats
	tap    tracer.Tap // on while a trace is attached
	conns  int        // connections accepted, numbered in records from 1; the accept loop's
	ino    uint64     // inode of the proxy's socket file
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

// Trace records each call that passes the point from now on, and sends
// its record to emit, until Trace is called again: with nil, no call is
// recorded any more, and the point costs a call no more than an atomic
// load. A call is recorded if a trace is attached when its request line
// passes, on whichever connection, one opened before included; its
// record's Conn is the point's number of the connection. emit is called
// from the connections' goroutines, concurrently, and must not block.
func (p *Point) Trace(emit func(types.TraceRecord)) { p.tap.Set(emit) }

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
		p.conns++
		p.wg.Add(1)
		go p.serve(c, p.conns)
	}
}

// serve proxies client connection n to the plugin, parsing each direction
// as it passes.
func (p *Point) serve(client *net.UnixConn, n int) {
	defer p.wg.Done()
	defer client.Close()
	p.upMu.RLock()
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.upstream, Net: "unix"})
	p.upMu.RUnlock()
	if err != nil {
		return // the client sees its connection closed, as the plugin's refusal
	}
	defer up.Close()
	tracer.NewConn(p.stats.since, n, p.stats, &p.tap).Proxy(client, up)
}
