package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// VolumeProxy publishes a volume plugin for dockerd as dockerd's own
// managed-plugin code would present it. A volume plugin answers with
// Mountpoints in its own mount namespace (/data/v1); dockerd joins those of
// its managed plugins to the host side of the plugin's rootfs or
// propagated mount (v2.Plugin.ScopedPath), but takes a legacy plugin's as
// host paths. So a plain link to the socket would let dockerd create a
// volume but not mount it into a container. The proxy listens at the
// published path, passes every call on unchanged, and re-scopes the
// Mountpoint of VolumeDriver.Mount, Path, Get and List answers.
//
// It dials the plugin's socket path for every call, so it follows plugin
// restarts, and a trace of the plugin sees dockerd's calls even when
// dockerd's connection to the proxy is older than the trace.
type VolumeProxy struct {
	path string
	srv  *http.Server
	done chan struct{}
}

// PublishVolumes starts a VolumeProxy at <dir>/<name>.sock for the plugin
// whose socket is socket; scope maps a Mountpoint in the plugin to the
// host. A stale socket left by an earlier daemon is replaced; a link, or a
// socket something still listens on, is refused.
func PublishVolumes(dir, pluginName, socket string, scope func(string) string) (*VolumeProxy, error) {
	path := Path(dir, pluginName)
	if !filepath.IsAbs(socket) {
		return nil, fmt.Errorf("publish %s: socket path %q is not absolute", pluginName, socket)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("publish %s: %w", pluginName, err)
	}
	if err := removeStale(path); err != nil {
		return nil, fmt.Errorf("publish %s: %w", pluginName, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", pluginName, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "plugin"
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
			DisableCompression: true,
			// A connection per call: dockerd keeps its own connections
			// open for ever, and a trace started later still sees every
			// call the proxy passes on.
			DisableKeepAlives: true,
		},
		ModifyResponse: func(resp *http.Response) error { return rescope(resp, scope) },
	}
	p := &VolumeProxy{path: path, srv: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// Path is where the proxy listens.
func (p *VolumeProxy) Path() string { return p.path }

// Close stops the proxy and removes its socket. Calls under way finish
// first, for up to five seconds.
func (p *VolumeProxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	<-p.done
	return err
}

// removeStale removes a socket at path that nothing listens on any more (a
// daemon that died left it), and refuses anything else.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket plugdbg made", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: something listens there already", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.Remove(path)
}

// rescope rewrites the Mountpoints of a successful volume answer.
func rescope(resp *http.Response, scope func(string) string) error {
	var rewrite func(map[string]json.RawMessage) bool
	switch resp.Request.URL.Path {
	case "/VolumeDriver.Mount", "/VolumeDriver.Path":
		rewrite = func(m map[string]json.RawMessage) bool { return rescopeField(m, scope) }
	case "/VolumeDriver.Get":
		rewrite = func(m map[string]json.RawMessage) bool { return rescopeNested(m, "Volume", scope) }
	case "/VolumeDriver.List":
		rewrite = func(m map[string]json.RawMessage) bool { return rescopeList(m, scope) }
	default:
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil && rewrite(m) {
		if out, err := json.Marshal(m); err == nil {
			body = out
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// rescopeField rewrites m's Mountpoint, if it has a non-empty one.
func rescopeField(m map[string]json.RawMessage, scope func(string) string) bool {
	var mp string
	if json.Unmarshal(m["Mountpoint"], &mp) != nil || mp == "" {
		return false
	}
	b, _ := json.Marshal(scope(mp))
	m["Mountpoint"] = b
	return true
}

func rescopeNested(m map[string]json.RawMessage, key string, scope func(string) string) bool {
	var v map[string]json.RawMessage
	if json.Unmarshal(m[key], &v) != nil || !rescopeField(v, scope) {
		return false
	}
	m[key], _ = json.Marshal(v)
	return true
}

func rescopeList(m map[string]json.RawMessage, scope func(string) string) bool {
	var vs []map[string]json.RawMessage
	if json.Unmarshal(m["Volumes"], &vs) != nil {
		return false
	}
	changed := false
	for _, v := range vs {
		changed = rescopeField(v, scope) || changed
	}
	if changed {
		m["Volumes"], _ = json.Marshal(vs)
	}
	return changed
}

// ScopedPath maps a path in a plugin's mount namespace to the host as
// dockerd does for its managed plugins (v2.Plugin.ScopedPath): under the
// propagated mount, to its host directory; elsewhere, into the rootfs.
func ScopedPath(rootfs, propagatedMount, propagatedHost, p string) string {
	if propagatedMount != "" && (p == propagatedMount || len(p) > len(propagatedMount) && p[:len(propagatedMount)] == propagatedMount && p[len(propagatedMount)] == '/') {
		return filepath.Join(propagatedHost, p[len(propagatedMount):])
	}
	return filepath.Join(rootfs, p)
}
