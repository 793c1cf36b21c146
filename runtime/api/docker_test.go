package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// dockerTargets is an API whose dockerd is another plugdbg API (it answers
// the Engine API paths dockerd.Host reads of a plugin) running plugin "p",
// an echo server on p.sock.
type dockerTargets struct {
	*testServer               // the API under test, where p is docker:p
	dockerd     *testServer   // the stand-in for dockerd
	p           types.Inspect // p as the stand-in reports it
	logFile     string        // "dockerd's log"
}

func newDockerTargets(t *testing.T) *dockerTargets {
	t.Helper()
	dkSock := apitest.ServeRunning(t, "p.sock")
	dk := testServerOn(t, dkSock)
	dk.create(t, "p")
	status, _, body := dk.do(t, http.MethodPost, "/plugins/p/enable?timeout=10", nil)
	require.Equal(t, http.StatusOK, status, "enable: %s", body)
	p := dk.inspect(t, "p")
	require.NotEmpty(t, p.State.Socket)

	c, err := dockerd.NewClient("unix://" + dkSock)
	require.NoError(t, err)
	logFile := filepath.Join(t.TempDir(), "dockerd.log")
	require.NoError(t, os.WriteFile(logFile, nil, 0o644))
	h := &dockerd.Host{
		API: c,
		// <plugin root>/<id>/<socket>, as dockerd lays them out.
		PluginRoot: filepath.Dir(filepath.Dir(p.State.Socket)),
		RuncRoot:   t.TempDir(), // no container: exec, top and stats find none
		LogFile:    logFile,
	}
	return &dockerTargets{testServer: testServerOn(t, apitest.ServeDocker(t, h)), dockerd: dk, p: p, logFile: logFile}
}

// log appends lines to dockerd's log as dockerd writes plugin output.
func (d *dockerTargets) log(t *testing.T, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(d.logFile, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	for _, l := range lines {
		_, err := io.WriteString(f, l+"\n")
		require.NoError(t, err)
	}
}

// TestDockerTargets: dockerd's plugins, as docker:NAME, go through the
// handlers of plugdbg's own, with the dockerd backend's answers.
func TestDockerTargets(t *testing.T) {
	d := newDockerTargets(t)
	id := d.p.ID

	got := d.inspect(t, "docker:p")
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "p:latest", got.Name)
	assert.Equal(t, d.p.State.Socket, got.State.Socket, "the socket under dockerd's plugin root")
	assert.Equal(t, types.StatusRunning, got.State.Status)
	assert.Equal(t, "dockerd", got.LogConfig.Type)
	assert.Equal(t, id, d.inspect(t, "docker:"+id[:12]).ID, "dockerd resolves an ID prefix")

	t.Run("list", func(t *testing.T) {
		status, _, body := d.do(t, http.MethodGet, "/plugins?docker=1", nil)
		require.Equal(t, http.StatusOK, status, "%s", body)
		var ps []types.Inspect
		require.NoError(t, json.Unmarshal(body, &ps))
		require.Len(t, ps, 1)
		assert.Equal(t, id, ps[0].ID)
		assert.Equal(t, types.StatusRunning, ps[0].State.Status)

		status, _, body = d.do(t, http.MethodGet, `/plugins?docker=1&filters={"enabled":["false"]}`, nil)
		require.Equal(t, http.StatusOK, status, "%s", body)
		assert.JSONEq(t, `[]`, string(body), "the filters apply to dockerd's plugins")

		status, _, body = d.do(t, http.MethodGet, `/plugins?docker=1&filters={"color":["red"]}`, nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid filter 'color'", errorMessage(t, body))

		status, _, body = d.do(t, http.MethodGet, "/plugins", nil)
		require.Equal(t, http.StatusOK, status)
		assert.JSONEq(t, `[]`, string(body), "dockerd's plugins are not plugdbg's")
	})

	t.Run("logs", func(t *testing.T) {
		d.log(t,
			`time="2026-01-02T03:04:05Z" level=info msg="listening" plugin=`+id,
			`time="2026-01-02T03:04:06Z" level=info msg="from another" plugin=0123456789abcdef`,
			`time="2026-01-02T03:04:07Z" level=error msg="oops \"quoted\"" plugin=`+id,
			`time="2026-01-02T03:04:08Z" level=info msg="dockerd's own line"`,
		)
		lines := func(query string) []types.LogLine {
			status, h, body := d.do(t, http.MethodGet, "/plugins/docker:p/logs"+query, nil)
			require.Equal(t, http.StatusOK, status, "%s", body)
			assert.Equal(t, "application/x-ndjson", h.Get("Content-Type"))
			var out []types.LogLine
			sc := bufio.NewScanner(strings.NewReader(string(body)))
			for sc.Scan() {
				var l types.LogLine
				require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "%s", sc.Text())
				out = append(out, l)
			}
			return out
		}
		all := lines("")
		require.Len(t, all, 2, "only the plugin's lines")
		assert.Equal(t, types.LogLine{Plugin: id, Name: "p:latest", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(), Stream: "stdout", Line: "listening"}, all[0])
		assert.Equal(t, `oops "quoted"`, all[1].Line)
		assert.Equal(t, "stderr", all[1].Stream)

		stderr := lines("?stream=stderr")
		require.Len(t, stderr, 1)
		assert.Equal(t, `oops "quoted"`, stderr[0].Line)
		assert.Len(t, lines("?tail=1"), 1)

		status, _, body := d.do(t, http.MethodGet, "/plugins/docker:p/logs?tail=some", nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, errorMessage(t, body), "invalid tail")
	})

	t.Run("trace", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plugdbg/plugins/docker:p/trace", nil)
		require.NoError(t, err)
		resp, err := d.http.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		dec := json.NewDecoder(resp.Body)
		var first types.TraceRecord
		require.NoError(t, dec.Decode(&first), "the start line")
		assert.Equal(t, d.p.State.Socket, first.Tracing)

		answer := callPlugin(t, d.p.State.Socket, "VolumeDriver.Get", `{"Name":"v"}`)
		assert.Equal(t, `{"Echo":"{\"Name\":\"v\"}"}`, answer)
		var rec types.TraceRecord
		require.NoError(t, dec.Decode(&rec), "the call's record")
		assert.Equal(t, "VolumeDriver.Get", rec.Method)
		assert.Equal(t, `{"Name":"v"}`, rec.Request)
	})

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{name: "inspect unknown", method: http.MethodGet, path: "/plugins/docker:nosuch/json", wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found in dockerd`},
		{name: "exec unknown", method: http.MethodPost, path: "/plugins/docker:nosuch/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found in dockerd`},
		{name: "logs unknown", method: http.MethodGet, path: "/plugins/docker:nosuch/logs", wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found in dockerd`},
		{name: "usage unknown", method: http.MethodGet, path: "/plugins/docker:nosuch/usage", wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found in dockerd`},
		{name: "exec no container", method: http.MethodPost, path: "/plugins/docker:p/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusConflict, wantMsg: "exec in dockerd's plugin p:latest: container is not running"},
		{name: "exec without a command", method: http.MethodPost, path: "/plugins/docker:p/exec", body: `{"Cmd":[]}`, wantStatus: http.StatusBadRequest, wantMsg: "exec needs a command"},
		{name: "exec with a bad body", method: http.MethodPost, path: "/plugins/docker:p/exec", body: `{"Cmd":"sh"}`, wantStatus: http.StatusBadRequest, wantMsg: "invalid exec config"},
		{name: "top no container", method: http.MethodGet, path: "/plugins/docker:p/top", wantStatus: http.StatusConflict, wantMsg: "list processes of dockerd's plugin p:latest: container is not running"},
		{name: "stats no container", method: http.MethodGet, path: "/plugins/docker:p/stats", wantStatus: http.StatusConflict, wantMsg: "read stats of dockerd's plugin p:latest: container is not running"},
		{name: "stats bad stream", method: http.MethodGet, path: "/plugins/docker:p/stats?stream=maybe", wantStatus: http.StatusBadRequest, wantMsg: "stream"},
		// The stand-in has no /volumes: an error answer of "dockerd".
		{name: "usage upstream error", method: http.MethodGet, path: "/plugins/docker:p/usage", wantStatus: http.StatusBadGateway, wantMsg: "usage of p:latest: list volumes: dockerd: page not found"},
		{name: "enable", method: http.MethodPost, path: "/plugins/docker:p/enable", wantStatus: http.StatusNotFound, wantMsg: "page not found: POST /plugins/docker:p/enable"},
		{name: "set", method: http.MethodPost, path: "/plugins/docker:p/set", body: `[]`, wantStatus: http.StatusNotFound, wantMsg: "page not found"},
		{name: "unknown action", method: http.MethodGet, path: "/plugins/docker:p/frobnicate", wantStatus: http.StatusNotFound, wantMsg: "page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := d.do(t, tt.method, tt.path, strings.NewReader(tt.body))
			assert.Equal(t, tt.wantStatus, status)
			assert.Empty(t, h.Get("Upgrade"))
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
		})
	}

	t.Run("disabled", func(t *testing.T) {
		status, _, body := d.dockerd.do(t, http.MethodPost, "/plugins/p/disable", nil)
		require.Equal(t, http.StatusOK, status, "disable: %s", body)
		assert.Equal(t, types.StatusDisabled, d.inspect(t, "docker:p").State.Status)
		for _, tt := range []struct{ method, action, body, verb string }{
			{http.MethodPost, "exec", `{"Cmd":["sh"]}`, "exec in"},
			{http.MethodGet, "top", "", "list processes of"},
			{http.MethodGet, "stats", "", "read stats of"},
			{http.MethodGet, "trace", "", "trace"},
		} {
			status, h, body := d.do(t, tt.method, "/plugins/docker:p/"+tt.action, strings.NewReader(tt.body))
			assert.Equal(t, http.StatusConflict, status, tt.action)
			assert.Empty(t, h.Get("Upgrade"))
			assert.Equal(t, fmt.Sprintf("cannot %s dockerd's plugin p:latest: it is disabled", tt.verb), errorMessage(t, body), tt.action)
		}
	})
}

// TestNoDocker: without a dockerd, docker:NAME targets and the docker list
// answer 501, whatever the action.
func TestNoDocker(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/plugins?docker=1", "/plugins/docker:p/json", "/plugins/docker:p/logs", "/plugins/docker:p/enable"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "enable") {
			method = http.MethodPost
		}
		status, _, body := s.do(t, method, path, nil)
		assert.Equal(t, http.StatusNotImplemented, status, path)
		assert.Equal(t, "the daemon has no dockerd to talk to", errorMessage(t, body), path)
	}
}

// callPlugin posts body to method on the plugin socket sock and returns
// the answer.
func callPlugin(t *testing.T, sock, method, body string) string {
	t.Helper()
	pc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	defer pc.CloseIdleConnections()
	resp, err := pc.Post("http://plugin/"+method, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(answer)
}
