package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
)

// ConnectUpgrade is the Upgrade token of POST /plugins/{name}/connect.
const ConnectUpgrade = types.ConnectUpgrade

// connectDialTimeout bounds the dial of a plugin's socket: a unix socket
// answers at once or not at all, unless its backlog is full.
const connectDialTimeout = 10 * time.Second

// connect tunnels the connection to plugin ref's socket, for a client on
// another machine (a tcp:// or ssh:// host) that cannot dial the path
// itself: the daemon dials the socket, answers 101 and from then on joins
// the two byte streams, so that the client speaks the plugin protocol
// straight to the plugin. What keeps it from starting (unknown plugin,
// not enabled, a socket that refuses) is an ordinary error answer.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	if !headerHas(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), ConnectUpgrade) {
		writeErr(w, errkind.Invalid(fmt.Errorf("connect needs the headers Connection: Upgrade and Upgrade: %s", ConnectUpgrade)))
		return
	}
	// Bytes after the head belong to the plugin: a body here would be
	// sent to it as if it were a request.
	if r.ContentLength != 0 {
		writeErr(w, errkind.Invalid(errors.New("connect takes no request body")))
		return
	}
	p, err := b.Inspect(r.Context(), ref)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !p.Enabled {
		writeErr(w, errkind.Conflict(fmt.Errorf("plugin %s is not enabled (plugdbg enable %s), so it has no socket", p.Name, p.Name)))
		return
	}
	if p.State.Socket == "" {
		writeErr(w, errkind.Conflict(fmt.Errorf("cannot connect to plugin %s: the daemon knows no socket of it", p.Name)))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeErr(w, errors.New("connect needs a connection that can be upgraded"))
		return
	}
	d := net.Dialer{Timeout: connectDialTimeout}
	plugin, err := d.DialContext(r.Context(), "unix", p.State.Socket)
	if err != nil {
		writeErr(w, errkind.Unavailable(fmt.Errorf("connect to plugin %s: its socket does not answer: %w", p.Name, err)))
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		plugin.Close()
		s.log.WithError(err).Warn("connect: hijack connection")
		return
	}
	// Logged before the client can use the tunnel, so that the line is
	// there by the time the client has made its calls.
	log := s.log.WithField("plugin", p.ID)
	log.Debugf("connect: tunnel to %s open", p.State.Socket)
	defer log.Debugf("connect: tunnel to %s closed", p.State.Socket)
	// The server's read deadline (ReadHeaderTimeout) is for the head only.
	_ = conn.SetDeadline(time.Time{})
	id := p.ID
	if strings.HasPrefix(ref, types.DockerPrefix) {
		id = types.DockerPrefix + p.ID
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + ConnectUpgrade + "\r\n" +
		types.ConnectPluginHeader + ": " + url.PathEscape(id) + "\r\n" +
		types.ConnectSocketHeader + ": " + url.PathEscape(p.State.Socket) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		plugin.Close()
		return
	}
	// The client's bytes already read with the head (none for a client
	// that waits for the 101) are in brw.Reader, which reads on from conn.
	join(conn, brw.Reader, plugin)
}

// headerHas reports whether h's comma-separated field key holds token.
func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// join copies client (read through clientR) to plugin and plugin to client
// until both directions have ended, then closes both connections. A
// direction whose source ends cleanly half-closes its destination, so that
// the plugin's HTTP server sees a request body end while the client still
// reads the answer. A direction that fails (a reset, a write to a side
// that is gone) closes both at once: nothing more can arrive where it
// should, and the other direction's copy must not wait for a peer that
// may never speak again. So the tunnel lasts as long as one side keeps its
// end open and the other has not gone away: an idle keep-alive connection
// stays, a tunnel whose both sides are gone ends.
func join(client net.Conn, clientR io.Reader, plugin net.Conn) {
	done := make(chan struct{}, 2)
	pipe := func(dst net.Conn, src io.Reader) {
		defer func() { done <- struct{}{} }()
		if _, err := io.Copy(dst, src); err != nil {
			client.Close()
			plugin.Close()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
		// A destination that cannot half-close is closed: its peer must
		// see the end.
		client.Close()
		plugin.Close()
	}
	go pipe(plugin, clientR)
	go pipe(client, plugin)
	<-done
	<-done
	client.Close()
	plugin.Close()
}
