// Package tracer parses the calls made on a plugin's unix socket as they
// pass a proxy (Conn: HTTP/1.1 with keep-alive, pipelining and chunked
// bodies, counted by a Counter and recorded as types.TraceRecord while a
// Tap is on), and is the recording proxy `plugdbg trace` interposes on a
// socket: the plugin's socket file is renamed aside (AsidePath), the proxy
// listens on the original path, and every byte clients send or receive is
// copied through unchanged while the parser records each call. Stopping
// renames the plugin's socket back over the proxy's, so new connections go
// straight to the plugin again, with no plugin restart. An observed
// plugin's recording point (package observe) parses with the same Conn.
package tracer

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
)

// StartRecord is the first line of a trace stream of socket: Time is now.
func StartRecord(socket string) types.TraceRecord {
	return types.TraceRecord{Time: time.Now(), Tracing: socket}
}

// AsidePath is where the plugin's socket at path is moved while traced:
// ".trace" in the same directory, a short name, because the plugin's socket
// path may already be near the 107-byte limit of unix socket paths.
func AsidePath(path string) string { return filepath.Join(filepath.Dir(path), ".trace") }

// Proxy is a running trace of one socket.
type Proxy struct {
	socket string
	emit   func(types.TraceRecord)
	tap    Tap       // always on, with emit
	origin time.Time // the clock of the records' times

	mu     sync.Mutex
	conns  int
	closed bool
	wg     sync.WaitGroup
	ln     *net.UnixListener // the listener at the path
	done   chan struct{}     // closed when ln's accept loop has ended

	// swapMu serialises Stop and Resume, which move the names, and
	// guards aside and ino.
	swapMu sync.Mutex
	aside  string // the moved name; "" once nothing is left there to remove
	ino    uint64 // inode of the proxy's socket file

	// upMu guards upstream, where the plugin's socket is: the moved name
	// while traced, the path again once Stop swapped the names back. Dials
	// hold it for reading, so none dials a name mid-swap.
	upMu     sync.RWMutex
	upstream string
}

// Start moves the socket at path aside and listens in its place; once it
// returns, a client dialling path reaches the proxy. emit is called once
// per call, once its answer has passed or its connection ended without
// one (and for a connection the plugin refused), from the proxy's
// goroutines, possibly concurrently; it must not block for long, since it
// runs in the copy, before the answer is forwarded.
func Start(path string, emit func(types.TraceRecord)) (*Proxy, error) {
	aside := AsidePath(path)
	if len(aside) > 107 {
		return nil, fmt.Errorf("trace %s: the moved socket path would be %d bytes, over the 107 a unix socket allows", path, len(aside))
	}
	ln, ino, err := interpose(path, aside)
	if err != nil {
		return nil, err
	}
	p := &Proxy{socket: path, aside: aside, ln: ln, ino: ino, emit: emit, origin: time.Now(), upstream: aside, done: make(chan struct{})}
	p.tap.Set(emit)
	p.wg.Add(1)
	go p.accept(ln, p.done)
	return p, nil
}

// interpose moves the socket at path to aside and puts a new listener at
// path, with the same permissions, returning it and its file's inode.
func interpose(path, aside string) (*net.UnixListener, uint64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("trace: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, 0, fmt.Errorf("trace: %s is not a socket", path)
	}
	if _, err := os.Lstat(aside); err == nil {
		return nil, 0, fmt.Errorf("trace: %s exists: is the socket already traced?", aside)
	}
	// Listen beside the plugin's socket, then swap the two names in one
	// step: a client dialling the path reaches either the plugin or the
	// proxy, never nothing.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: aside, Net: "unix"})
	if err != nil {
		return nil, 0, fmt.Errorf("trace: listen on %s: %w", aside, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(aside, fi.Mode().Perm()); err != nil {
		ln.Close()
		os.Remove(aside)
		return nil, 0, fmt.Errorf("trace: %w", err)
	}
	if err := sockwatch.Exchange(aside, path); err != nil {
		ln.Close()
		os.Remove(aside)
		return nil, 0, fmt.Errorf("trace: swap %s and %s: %w", path, aside, err)
	}
	return ln, sockwatch.Inode(path), nil
}

// Resume puts the proxy back in front of a new socket the plugin made at
// the path after its old socket and the proxy's were removed (the plugin
// restarted, and its socket directory was made anew): the new socket is
// moved aside and the proxy listens at the path again, its connection
// numbers going on. It reports whether it moved anything: not when the
// proxy still has the path, nor once stopped. Connections already open
// through the proxy are left as they are.
func (p *Proxy) Resume() (bool, error) {
	p.swapMu.Lock()
	defer p.swapMu.Unlock()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return false, nil
	}
	// The plugin's socket at the moved name means the arrangement
	// holds: the moved name went with the directory in a restart.
	if _, err := os.Lstat(p.aside); err == nil && sockwatch.Inode(p.socket) == p.ino {
		return false, nil
	}
	ln, ino, err := interpose(p.socket, p.aside)
	if err != nil {
		return false, err
	}
	p.ino = ino
	p.mu.Lock()
	old := p.ln
	p.ln, p.done = ln, make(chan struct{})
	done := p.done
	p.mu.Unlock()
	// The old listener's file is gone: no client can reach it any more.
	old.Close()
	p.wg.Add(1)
	go p.accept(ln, done)
	return true, nil
}

// Stop puts the plugin's socket back in place (the names are swapped back
// in one step, so a client dialling meanwhile reaches either the proxy or
// the plugin), accepts the connections already queued on the proxy, then
// stops accepting. Connections open through the proxy keep working until
// their clients close them; Stop does not wait for them. If the plugin
// restarted meanwhile and made a new socket at the path, that one is kept
// and the stale moved one removed.
func (p *Proxy) Stop() error {
	p.swapMu.Lock()
	defer p.swapMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ln, done := p.ln, p.done
	p.mu.Unlock()
	var err error
	p.upMu.Lock()
	if sockwatch.Inode(p.socket) == p.ino {
		if xerr := sockwatch.Exchange(p.aside, p.socket); xerr != nil {
			// A rename over the proxy's socket still restores the plugin's.
			if rerr := os.Rename(p.aside, p.socket); rerr != nil {
				err = fmt.Errorf("trace: restore %s: %w", p.socket, errors.Join(xerr, rerr))
			}
			p.aside = "" // nothing left to remove
		}
	}
	if err == nil {
		p.upstream = p.socket
	}
	p.upMu.Unlock()
	// Clients that connected before the swap wait in the listen queue:
	// serve them rather than reset them. Nothing new can arrive.
	_ = ln.SetDeadline(time.Now().Add(drainQueue))
	<-done
	if err == nil && p.aside != "" {
		// p.aside is the proxy's socket now, or the plugin's stale one if
		// the plugin made a new socket at the path meanwhile.
		_ = os.Remove(p.aside)
	}
	return err
}

// drainQueue is how long Stop keeps accepting after the swap, for clients
// already queued on the proxy's socket.
const drainQueue = 100 * time.Millisecond

// Wait waits until the proxy has stopped and every proxied connection ended.
func (p *Proxy) Wait() { p.wg.Wait() }

func (p *Proxy) accept(ln *net.UnixListener, done chan struct{}) {
	defer p.wg.Done()
	defer close(done)
	defer ln.Close()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns++
		n := p.conns
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(c, n)
	}
}

// serve proxies one client connection, the n-th. Bytes go through
// untouched, parsed as they pass (Conn.Proxy).
func (p *Proxy) serve(client *net.UnixConn, n int) {
	defer p.wg.Done()
	defer client.Close()
	p.upMu.RLock()
	up, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: p.upstream, Net: "unix"})
	p.upMu.RUnlock()
	if err != nil {
		p.emit(types.TraceRecord{Time: time.Now(), Conn: n, Err: "trace: dial the plugin: " + err.Error()})
		return
	}
	defer up.Close()
	NewConn(p.origin, n, nil, &p.tap).Proxy(client, up)
}
