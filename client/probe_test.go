package client_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// tcpRelay listens on a loopback TCP port and joins each connection to
// the daemon's unix socket, as a daemon's tcp listener would serve it: a
// client of tcp://ADDR has a remote daemon, whose plugin sockets it must
// not dial. It returns the host URL. The connections still open when the
// test ends (a client's idle keep-alive ones) are closed then.
func tcpRelay(t *testing.T, socket string) string {
	host, _ := countingTCPRelay(t, socket)
	return host
}

// countingTCPRelay is tcpRelay, also counting the connections it took.
func countingTCPRelay(t *testing.T, socket string) (string, *atomic.Int32) {
	t.Helper()
	var accepted atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { relay(c, socket) })
		}
	})
	return "tcp://" + ln.Addr().String(), &accepted
}

// relay joins c to a new connection to socket, with half-closes, until
// both directions have ended or either fails.
func relay(c net.Conn, socket string) {
	defer c.Close()
	d, err := net.Dial("unix", socket)
	if err != nil {
		return
	}
	defer d.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := io.Copy(d, c); err != nil {
			d.Close()
			return
		}
		_ = d.(*net.UnixConn).CloseWrite()
	}()
	if _, err := io.Copy(c, d); err != nil {
		c.Close()
	}
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}

// runningPlugin serves the API with plugin "p" enabled (an echo server
// on p.sock) and returns the API's socket and p's.
func runningPlugin(t *testing.T) (string, string) {
	t.Helper()
	api := apitest.ServeRunning(t, "p.sock")
	c := client.New("unix://" + api)
	ctx := testCtx(t)
	require.NoError(t, c.CreateFromDir(ctx, "p", pluginDir(t, testConfig)))
	require.NoError(t, c.Enable(ctx, "p", 10*time.Second))
	require.NoError(t, c.CreateFromDir(ctx, "off", pluginDir(t, testConfig)))
	p, err := c.Inspect(ctx, "p")
	require.NoError(t, err)
	return api, p.State.Socket
}

// tunnelClient is an HTTP client whose connections come from dial.
func tunnelClient(t *testing.T, dial func(context.Context) (net.Conn, error)) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(t *testing.T, hc *http.Client, method, body string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, "http://plugin.moby.localhost/"+method, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return string(data)
}

// TestPluginEndpointLocal: a daemon on a unix socket whose plugin sockets
// are here has them dialled directly.
func TestPluginEndpointLocal(t *testing.T) {
	api, sock := runningPlugin(t)
	ep, err := client.New("unix://"+api).PluginEndpoint(testCtx(t), "p")
	require.NoError(t, err)
	assert.Equal(t, sock, ep.Socket)
	assert.Nil(t, ep.Dial, "no tunnel to a socket on this machine")
	assert.Empty(t, ep.Via)
}

// TestPluginEndpointRemote: a daemon reached over TCP has its plugins'
// sockets reached through tunnels, one per connection: HTTP calls with
// keep-alive, and a raw exchange whose half-close reaches the plugin.
func TestPluginEndpointRemote(t *testing.T) {
	api, sock := runningPlugin(t)
	host, daemonConns := countingTCPRelay(t, api)
	c := client.New(host)
	ctx := testCtx(t)
	ep, err := c.PluginEndpoint(ctx, "p")
	require.NoError(t, err)
	assert.Equal(t, sock, ep.Socket, "the path on the daemon's machine, from the tunnel's answer")
	assert.Equal(t, int32(1), daemonConns.Load(), "no inspect before the first tunnel: over ssh each connection is a login")
	require.NotNil(t, ep.Dial)
	assert.Equal(t, host, ep.Via)

	var dials atomic.Int32
	hc := tunnelClient(t, func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		return ep.Dial(ctx)
	})
	for _, name := range []string{"a", "b", "c"} {
		assert.Equal(t, `{"Echo":"{\"Name\":\"`+name+`\"}"}`, post(t, hc, "VolumeDriver.Get", `{"Name":"`+name+`"}`))
	}
	assert.Equal(t, int32(1), dials.Load(), "one tunnel carries the calls one after another")

	conn, err := ep.Dial(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /VolumeDriver.Path HTTP/1.1\r\nHost: plugin.moby.localhost\r\nContent-Length: 12\r\n\r\n{\"Name\":\"v\"}")
	require.NoError(t, err)
	require.NoError(t, conn.(interface{ CloseWrite() error }).CloseWrite())
	out, err := io.ReadAll(conn)
	require.NoError(t, err, "the plugin ends the connection once it has answered the input that ended")
	assert.True(t, strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n"), "%q", out)
	assert.True(t, strings.HasSuffix(string(out), `{"Echo":"{\"Name\":\"v\"}"}`), "%q", out)
}

// TestPluginEndpointErrors: a plugin that cannot be called fails before
// any tunnel, and a tunnel the daemon cannot open is the daemon's error.
func TestPluginEndpointErrors(t *testing.T) {
	api, _ := runningPlugin(t)
	c := client.New(tcpRelay(t, api))
	ctx := testCtx(t)

	_, err := c.PluginEndpoint(ctx, "off")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "plugin off:latest is not enabled")

	_, err = c.PluginEndpoint(ctx, "nosuch")
	assert.True(t, client.IsNotFound(err), "%v", err)

	_, err = c.DialPlugin(ctx, "nosuch")
	assert.True(t, client.IsNotFound(err), "%v", err)
	_, err = c.DialPlugin(ctx, "off")
	var de *client.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusConflict, de.Status)
	assert.Contains(t, de.Message, "plugin off:latest is not enabled")
}

// TestPluginEndpointPathNotHere: a daemon on a unix socket whose plugin's
// socket path is not on this machine (here: dockerd's plugin root as the
// daemon has it, which does not exist) is asked for a tunnel, and what the
// daemon finds there is its answer, naming the path.
func TestPluginEndpointPathNotHere(t *testing.T) {
	dkAPI, _ := runningPlugin(t)
	dk, err := dockerd.NewClient("unix://" + dkAPI)
	require.NoError(t, err)
	root := filepath.Join(t.TempDir(), "elsewhere")
	api := apitest.ServeDocker(t, &dockerd.Host{API: dk, PluginRoot: root, RuncRoot: t.TempDir(), LogFile: os.DevNull})
	c := client.New("unix://" + api)
	ctx := testCtx(t)

	ep, err := c.PluginEndpoint(ctx, "docker:p")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ep.Socket, root+"/"), ep.Socket)
	require.NotNil(t, ep.Dial, "the path is not here: the daemon is asked")
	_, err = ep.Dial(ctx)
	var de *client.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, http.StatusBadGateway, de.Status)
	assert.Contains(t, de.Message, "dial unix "+ep.Socket)
}
