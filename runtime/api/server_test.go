package api_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/version"
)

// testServer is a real manager behind the API, served on a unix socket.
type testServer struct {
	socket string
	http   *http.Client
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return testServerOn(t, apitest.Serve(t))
}

// testServerOn is the testServer of the API served on socket.
func testServerOn(t *testing.T, socket string) *testServer {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{socket: socket, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request and returns the status, headers and body.
func (s *testServer) do(t *testing.T, method, path string, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://plugdbg"+path, body)
	require.NoError(t, err)
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

const testConfig = `{
  "Description": "test plugin",
  "Entrypoint": ["/bin/plugin"],
  "Interface": {"Types": ["docker.volumedriver/1.0"], "Socket": "p.sock"},
  "Env": [{"Name": "DEBUG", "Settable": ["value"], "Value": "0"}]
}`

// pluginTar is a build context: config.json and a rootfs with the entrypoint.
func pluginTar(t *testing.T, config string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, body)
		require.NoError(t, err)
	}
	add(&tar.Header{Name: "config.json", Typeflag: tar.TypeReg, Mode: 0o644}, config)
	add(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "rootfs/bin/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "rootfs/bin/plugin", Typeflag: tar.TypeReg, Mode: 0o755}, "#!/bin/sh\n")
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func (s *testServer) create(t *testing.T, name string) {
	t.Helper()
	status, _, body := s.do(t, http.MethodPost, "/plugins/create?name="+url.QueryEscape(name), bytes.NewReader(pluginTar(t, testConfig)))
	require.Equal(t, http.StatusNoContent, status, "create %s: %s", name, body)
}

func (s *testServer) inspect(t *testing.T, ref string) types.Inspect {
	t.Helper()
	status, _, body := s.do(t, http.MethodGet, "/plugins/"+ref+"/json", nil)
	require.Equal(t, http.StatusOK, status, "inspect %s: %s", ref, body)
	var p types.Inspect
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

// errorMessage decodes an Engine API error body, {"message": "..."}.
func errorMessage(t *testing.T, body []byte) string {
	t.Helper()
	var e map[string]string
	require.NoError(t, json.Unmarshal(body, &e), "error body is not {\"message\": …}: %s", body)
	require.Contains(t, e, "message")
	assert.Len(t, e, 1, "an error body has only a message: %s", body)
	return e["message"]
}

func TestPing(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name     string
		method   string
		path     string
		wantBody string
	}{
		{name: "GET", method: http.MethodGet, path: "/_ping", wantBody: "OK"},
		{name: "HEAD", method: http.MethodHead, path: "/_ping", wantBody: ""},
		{name: "GET with version prefix", method: http.MethodGet, path: "/v1.41/_ping", wantBody: "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := s.do(t, tt.method, tt.path, nil)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, tt.wantBody, string(body))
			assert.Equal(t, version.APIVersion, h.Get("Api-Version"))
			assert.Equal(t, "linux", h.Get("Ostype"))
		})
	}
}

func TestVersion(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/version", "/v1.41/version", "/v1.24/version"} {
		t.Run(path, func(t *testing.T) {
			status, h, body := s.do(t, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, status, string(body))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			assert.Equal(t, version.APIVersion, h.Get("Api-Version"))
			var v struct {
				Version, ApiVersion, MinAPIVersion, Os, Arch string
			}
			require.NoError(t, json.Unmarshal(body, &v))
			assert.Equal(t, version.Version, v.Version)
			assert.Equal(t, version.APIVersion, v.ApiVersion)
			assert.Equal(t, version.MinAPIVersion, v.MinAPIVersion)
			assert.Equal(t, "linux", v.Os)
		})
	}
}

func TestListEmptyIsArray(t *testing.T) {
	s := newTestServer(t)
	status, h, body := s.do(t, http.MethodGet, "/plugins", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Equal(t, "[]\n", string(body))
}

func TestCreateAndInspect(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "vieux/sshfs")
	p := s.inspect(t, "vieux/sshfs")
	require.Regexp(t, `^[0-9a-f]{64}$`, p.ID)
	assert.Equal(t, "vieux/sshfs:latest", p.Name)
	assert.Equal(t, "vieux/sshfs:latest", p.PluginReference)
	assert.False(t, p.Enabled)
	assert.Equal(t, "test plugin", p.Config.Description)
	assert.Equal(t, []string{"DEBUG=0"}, p.Settings.Env)
	assert.Equal(t, types.StatusDisabled, p.State.Status)
	require.NotNil(t, p.Config.Rootfs)
	assert.Equal(t, "layers", p.Config.Rootfs.Type)

	refs := []struct {
		name string
		ref  string
	}{
		{name: "name", ref: "vieux/sshfs"},
		{name: "name with tag", ref: "vieux/sshfs:latest"},
		{name: "fully qualified name", ref: "docker.io/vieux/sshfs:latest"},
		{name: "full ID", ref: p.ID},
		{name: "ID prefix", ref: p.ID[:12]},
		{name: "short ID prefix", ref: p.ID[:3]},
	}
	for _, r := range refs {
		t.Run(r.name, func(t *testing.T) {
			got := s.inspect(t, r.ref)
			assert.Equal(t, p.ID, got.ID)
		})
	}
	t.Run("versioned path", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodGet, "/v1.41/plugins/vieux/sshfs:latest/json", nil)
		require.Equal(t, http.StatusOK, status, string(body))
	})

	t.Run("list", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodGet, "/plugins", nil)
		require.Equal(t, http.StatusOK, status)
		var list []types.Inspect
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list, 1)
		assert.Equal(t, p.ID, list[0].ID)
	})

	t.Run("create again conflicts", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodPost, "/plugins/create?name=vieux/sshfs:latest", bytes.NewReader(pluginTar(t, testConfig)))
		assert.Equal(t, http.StatusConflict, status)
		assert.Equal(t, "plugin vieux/sshfs:latest already exists", errorMessage(t, body))
	})
}

func TestCreateErrors(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name    string
		query   string
		body    []byte
		wantMsg string
	}{
		{name: "no name", query: "", body: pluginTar(t, testConfig), wantMsg: "name"},
		{name: "digest name", query: "?name=foo@sha256:" + strings.Repeat("a", 64), body: pluginTar(t, testConfig), wantMsg: "canonical"},
		{name: "no config.json", query: "?name=x", body: emptyTar(t), wantMsg: "config not found"},
		{name: "bad config", query: "?name=x", body: pluginTar(t, `{"Entrypoint": "/bin/plugin"}`), wantMsg: "Entrypoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := s.do(t, http.MethodPost, "/plugins/create"+tt.query, bytes.NewReader(tt.body))
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
		})
	}
	status, _, body := s.do(t, http.MethodGet, "/plugins", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "[]\n", string(body), "a failed create leaves no plugin")
}

func emptyTar(t *testing.T) []byte {
	var buf bytes.Buffer
	require.NoError(t, tar.NewWriter(&buf).Close())
	return buf.Bytes()
}

func TestNamesWithSlashes(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name     string
		create   string
		ref      string
		wantName string
	}{
		{name: "library", create: "library/foo", ref: "library/foo", wantName: "foo:latest"},
		{name: "library, short ref", create: "library/bar", ref: "bar", wantName: "bar:latest"},
		{name: "registry with port", create: "localhost:5000/ns/p:v1", ref: "localhost:5000/ns/p:v1", wantName: "localhost:5000/ns/p:v1"},
		{name: "deep path", create: "a/b/c/d", ref: "a/b/c/d:latest", wantName: "a/b/c/d:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.create(t, tt.create)
			p := s.inspect(t, tt.ref)
			assert.Equal(t, tt.wantName, p.Name)

			status, _, body := s.do(t, http.MethodPost, "/plugins/"+tt.ref+"/set", strings.NewReader(`["DEBUG=1"]`))
			require.Equal(t, http.StatusNoContent, status, string(body))
			assert.Equal(t, []string{"DEBUG=1"}, s.inspect(t, tt.ref).Settings.Env)

			status, _, body = s.do(t, http.MethodDelete, "/plugins/"+tt.ref, nil)
			require.Equal(t, http.StatusOK, status, string(body))
			status, _, _ = s.do(t, http.MethodGet, "/plugins/"+tt.ref+"/json", nil)
			assert.Equal(t, http.StatusNotFound, status)
		})
	}
}

func TestListFilters(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "a")
	s.create(t, "b")
	tests := []struct {
		name      string
		filters   string
		wantNames []string
		wantErr   string // a 400 whose message contains this
	}{
		{name: "no filter", filters: "", wantNames: []string{"a:latest", "b:latest"}},
		{name: "enabled=false", filters: `{"enabled":{"false":true}}`, wantNames: []string{"a:latest", "b:latest"}},
		{name: "enabled=true", filters: `{"enabled":{"true":true}}`, wantNames: []string{}},
		{name: "enabled=true, legacy form", filters: `{"enabled":["true"]}`, wantNames: []string{}},
		{name: "capability=volumedriver", filters: `{"capability":{"volumedriver":true}}`, wantNames: []string{"a:latest", "b:latest"}},
		{name: "capability=networkdriver", filters: `{"capability":{"networkdriver":true}}`, wantNames: []string{}},
		{name: "capability is case-sensitive", filters: `{"capability":{"VolumeDriver":true}}`, wantNames: []string{}},
		{name: "a false value is no filter", filters: `{"capability":{"networkdriver":false}}`, wantNames: []string{"a:latest", "b:latest"}},
		{name: "invalid filter key", filters: `{"driver":{"x":true}}`, wantErr: "invalid filter 'driver'"},
		{name: "invalid enabled value", filters: `{"enabled":{"maybe":true}}`, wantErr: "invalid filter 'enabled=maybe'"},
		{name: "not JSON", filters: `enabled=true`, wantErr: "invalid filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/plugins"
			if tt.filters != "" {
				path += "?filters=" + url.QueryEscape(tt.filters)
			}
			status, _, body := s.do(t, http.MethodGet, path, nil)
			if tt.wantErr != "" {
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Contains(t, errorMessage(t, body), tt.wantErr)
				return
			}
			require.Equal(t, http.StatusOK, status, string(body))
			var list []types.Inspect
			require.NoError(t, json.Unmarshal(body, &list))
			names := []string{}
			for _, p := range list {
				names = append(names, p.Name)
			}
			assert.Equal(t, tt.wantNames, names)
		})
	}
}

func TestSet(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{name: "not JSON", body: `DEBUG=1`, wantStatus: http.StatusBadRequest, wantMsg: "invalid body"},
		{name: "not an array", body: `{"DEBUG":"1"}`, wantStatus: http.StatusBadRequest, wantMsg: "invalid body"},
		{name: "unknown key", body: `["NOPE=1"]`, wantStatus: http.StatusBadRequest, wantMsg: `setting "NOPE" not found in the plugin configuration`},
		{name: "bad format", body: `["=1"]`, wantStatus: http.StatusBadRequest, wantMsg: "invalid format, must be <name>[.<field>][=<value>]"},
		{name: "wrong field", body: `["DEBUG.source=1"]`, wantStatus: http.StatusBadRequest, wantMsg: `"DEBUG.source" is not settable`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := s.do(t, http.MethodPost, "/plugins/p/set", strings.NewReader(tt.body))
			assert.Equal(t, tt.wantStatus, status)
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
			assert.Equal(t, []string{"DEBUG=0"}, s.inspect(t, "p").Settings.Env, "a failed set changes nothing")
		})
	}
	t.Run("ok", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodPost, "/plugins/p/set", strings.NewReader(`["DEBUG=1"]`))
		require.Equal(t, http.StatusNoContent, status, string(body))
		assert.Empty(t, body)
		assert.Equal(t, []string{"DEBUG=1"}, s.inspect(t, "p").Settings.Env)
	})
	t.Run("unknown plugin", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodPost, "/plugins/nope/set", strings.NewReader(`["DEBUG=1"]`))
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, `plugin "nope" not found`, errorMessage(t, body))
	})
}

func TestNotFound(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	tests := []struct {
		name    string
		method  string
		path    string
		wantMsg string // exact, when set
	}{
		{name: "DELETE unknown plugin", method: http.MethodDelete, path: "/plugins/x", wantMsg: `plugin "x" not found`},
		{name: "inspect unknown plugin", method: http.MethodGet, path: "/plugins/x/json", wantMsg: `plugin "x" not found`},
		{name: "enable unknown plugin", method: http.MethodPost, path: "/plugins/x/enable?timeout=0", wantMsg: `plugin "x" not found`},
		{name: "disable unknown plugin", method: http.MethodPost, path: "/plugins/x/disable", wantMsg: `plugin "x" not found`},
		{name: "unknown path", method: http.MethodGet, path: "/containers/json"},
		{name: "unknown plugin action", method: http.MethodPost, path: "/plugins/p/frobnicate"},
		{name: "plugin without action", method: http.MethodGet, path: "/plugins/p"},
		{name: "wrong method", method: http.MethodPut, path: "/plugins"},
		{name: "inspect with POST", method: http.MethodPost, path: "/plugins/p/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := s.do(t, tt.method, tt.path, nil)
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			msg := errorMessage(t, body)
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, msg)
			}
		})
	}
}

// TestEmptyPluginName: a path without a plugin name is not a lookup of ""
// (which, as an ID prefix, matched every plugin: with two of them,
// "multiple plugins found").
func TestEmptyPluginName(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	s.create(t, "q")
	tests := []struct {
		method string
		path   string
	}{
		{http.MethodGet, "/plugins//json"},
		{http.MethodGet, "/v1.41/plugins//json"},
		{http.MethodPost, "/plugins//enable"},
		{http.MethodPost, "/plugins//set"},
		{http.MethodDelete, "/plugins/"},
		{http.MethodGet, "/plugins/docker:/json"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, _, body := s.do(t, tt.method, tt.path, nil)
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, "page not found: "+tt.method+" "+tt.path+" (no plugin name)", errorMessage(t, body))
		})
	}
	s.inspect(t, "p") // nothing was removed
	s.inspect(t, "q")
}

func TestLifecycleErrors(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantMsg    string
	}{
		{name: "disable a disabled plugin", method: http.MethodPost, path: "/plugins/p/disable", wantStatus: http.StatusConflict, wantMsg: "plugin p:latest found but disabled"},
		{name: "bad force value", method: http.MethodPost, path: "/plugins/p/disable?force=maybe", wantStatus: http.StatusBadRequest, wantMsg: "force"},
		{name: "bad timeout", method: http.MethodPost, path: "/plugins/p/enable?timeout=soon", wantStatus: http.StatusBadRequest, wantMsg: "timeout"},
		{name: "negative timeout", method: http.MethodPost, path: "/plugins/p/enable?timeout=-1", wantStatus: http.StatusBadRequest, wantMsg: "timeout"},
		{name: "enable fails to start", method: http.MethodPost, path: "/plugins/p/enable?timeout=5", wantStatus: http.StatusInternalServerError, wantMsg: apitest.ErrNoRun.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := s.do(t, tt.method, tt.path, nil)
			assert.Equal(t, tt.wantStatus, status)
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
			p := s.inspect(t, "p")
			assert.False(t, p.Enabled)
			assert.Equal(t, types.StatusDisabled, p.State.Status)
		})
	}
}

func TestEvents(t *testing.T) {
	s := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plugdbg/events", nil)
	require.NoError(t, err)
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	s.create(t, "p")
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	require.NoError(t, err)
	var ev events.Message
	require.NoError(t, json.Unmarshal(line, &ev))
	assert.Equal(t, events.PluginEventType, ev.Type)
	assert.Equal(t, events.ActionCreate, ev.Action)
	assert.Equal(t, "p:latest", ev.Actor.Attributes["name"])
	assert.Regexp(t, `^[0-9a-f]{64}$`, ev.Actor.ID)
}

func TestRemove(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	status, _, body := s.do(t, http.MethodDelete, "/plugins/p?force=true", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, _, body = s.do(t, http.MethodGet, "/plugins", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "[]\n", string(body))
}

func TestListen(t *testing.T) {
	dir := apitest.ShortTempDir(t)
	socket := filepath.Join(dir, "sub", "api.sock")
	ln, err := api.Listen(socket)
	require.NoError(t, err)
	defer ln.Close()

	fi, err := os.Stat(socket)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())

	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, err = api.Listen(socket)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another daemon is listening on "+socket)
	_, err = os.Stat(socket)
	assert.NoError(t, err, "a refused Listen leaves the live socket alone")
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir := apitest.ShortTempDir(t)
	socket := filepath.Join(dir, "api.sock")
	// A socket file nobody serves, as a killed daemon leaves behind.
	ln, err := net.Listen("unix", socket)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	_, err = os.Stat(socket)
	require.NoError(t, err)

	ln, err = api.Listen(socket)
	require.NoError(t, err)
	defer ln.Close()
	fi, err := os.Stat(socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
}
