package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// fakeBackend is one running plugin, "f", whose stats stop after
// statsLeft samples.
type fakeBackend struct {
	mu        sync.Mutex
	refs      []string // every ref a method was given
	statsLeft int
}

var fakePlugin = types.Inspect{Plugin: plugin.Plugin{ID: "f1d", Name: "f:latest", Enabled: true}}

func (f *fakeBackend) find(ref string) (types.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs = append(f.refs, ref)
	if ref != "f" && ref != fakePlugin.ID {
		return types.Inspect{}, errkind.NotFound(fmt.Errorf("no plugin %q", ref))
	}
	return fakePlugin, nil
}

func (f *fakeBackend) List(context.Context) ([]types.Inspect, error) {
	return []types.Inspect{fakePlugin}, nil
}

func (f *fakeBackend) Inspect(_ context.Context, ref string) (types.Inspect, error) {
	return f.find(ref)
}

func (f *fakeBackend) Exec(_ context.Context, ref string, c types.ExecConfig) (execproto.Process, error) {
	if _, err := f.find(ref); err != nil {
		return nil, err
	}
	switch c.Cmd[0] {
	case "stopping":
		return nil, errkind.Conflict(errors.New("cannot exec in plugin f:latest: plugin is stopping"))
	case "upstream":
		return nil, fmt.Errorf("exec: %w", &dockerd.APIError{Status: 500, Message: "dockerd: boom"})
	}
	return nil, &execproto.StartError{ExitCode: 127, Msg: c.Cmd[0] + ": not found"}
}

func (f *fakeBackend) Top(_ context.Context, ref string) (types.Top, error) {
	if _, err := f.find(ref); err != nil {
		return types.Top{}, err
	}
	return types.Top{Titles: []string{"PID", "CMD"}, Processes: [][]string{{"1", "/f"}}}, nil
}

func (f *fakeBackend) Stats(_ context.Context, ref string) (types.Stats, error) {
	if _, err := f.find(ref); err != nil {
		return types.Stats{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statsLeft == 0 {
		return types.Stats{}, errkind.Conflict(errors.New("f stopped"))
	}
	f.statsLeft--
	return types.Stats{PidsCurrent: uint64(f.statsLeft)}, nil
}

// Calls answers that f is not observed: stats shows no call figures.
func (f *fakeBackend) Calls(_ context.Context, ref string) (types.CallStats, error) {
	if _, err := f.find(ref); err != nil {
		return types.CallStats{}, err
	}
	return types.CallStats{Plugin: fakePlugin.ID, Name: fakePlugin.Name}, nil
}

func (f *fakeBackend) Logs(_ context.Context, ref string, o types.LogOptions, send func(types.LogLine) error) error {
	if _, err := f.find(ref); err != nil {
		return err
	}
	if o.Started != nil {
		o.Started()
	}
	if err := send(types.LogLine{Plugin: fakePlugin.ID, Name: fakePlugin.Name, Stream: o.Stream, Line: "one"}); err != nil {
		return err
	}
	return errors.New("the log went away")
}

func (f *fakeBackend) Trace(_ context.Context, ref string, started func(string), fn func(types.TraceRecord) error) error {
	if _, err := f.find(ref); err != nil {
		return err
	}
	started("/run/f.sock")
	if err := fn(types.TraceRecord{Method: "VolumeDriver.List"}); err != nil {
		return err
	}
	started("/run/f-restarted.sock")
	return nil
}

func (f *fakeBackend) Usage(_ context.Context, ref string, calls bool) (types.Usage, error) {
	p, err := f.find(ref)
	return types.Usage{Plugin: p.ID, Name: p.Name, Note: fmt.Sprint("calls=", calls)}, err
}

// TestSharedHandlers: a docker:NAME target is served by the handlers of
// plugdbg's own plugins, which ask its Backend; here a fake one.
func TestSharedHandlers(t *testing.T) {
	fake := &fakeBackend{statsLeft: 3}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv := httptest.NewServer(&Server{docker: fake, log: log})
	t.Cleanup(srv.Close)
	get := func(t *testing.T, path string) (int, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}

	t.Run("inspect", func(t *testing.T) {
		status, body := get(t, "/v1.41/plugins/docker:f/json")
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"Id":"f1d"`)
		status, body = get(t, "/plugins/docker:g/json")
		assert.Equal(t, http.StatusNotFound, status)
		assert.JSONEq(t, `{"message":"no plugin \"g\""}`, body)
	})

	t.Run("list", func(t *testing.T) {
		status, body := get(t, `/plugins?docker=1&filters={"enabled":{"true":true}}`)
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"Id":"f1d"`)
	})

	t.Run("top and usage", func(t *testing.T) {
		status, body := get(t, "/plugins/docker:f/top")
		require.Equal(t, http.StatusOK, status, body)
		assert.JSONEq(t, `{"Titles":["PID","CMD"],"Processes":[["1","/f"]]}`, body)
		status, body = get(t, "/plugins/docker:f/usage?calls=1")
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"calls=true"`)
		status, _ = get(t, "/plugins/docker:f/usage?calls=maybe")
		assert.Equal(t, http.StatusBadRequest, status)
	})

	t.Run("stats stream ends with the reason", func(t *testing.T) {
		status, body := get(t, "/plugins/docker:f/stats?stream=1")
		require.Equal(t, http.StatusOK, status, body)
		lines := strings.Split(strings.TrimSpace(body), "\n")
		require.Len(t, lines, 3, "two reports from three samples, then why it ended: %s", body)
		var rep types.StatsReport
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &rep))
		assert.Equal(t, "f1d", rep.ID)
		assert.Equal(t, "f:latest", rep.Name)
		assert.Equal(t, uint64(1), rep.PidsCurrent)
		assert.JSONEq(t, `{"message":"f stopped"}`, lines[2])
	})

	t.Run("logs", func(t *testing.T) {
		status, body := get(t, "/plugins/docker:f/logs?stream=stderr")
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, `{"plugin":"f1d","name":"f:latest","stream":"stderr","line":"one"}`+"\n"+`{"error":"the log went away"}`+"\n", body)
	})

	t.Run("trace", func(t *testing.T) {
		status, body := get(t, "/plugins/docker:f/trace")
		require.Equal(t, http.StatusOK, status, body)
		lines := strings.Split(strings.TrimSpace(body), "\n")
		require.Len(t, lines, 3, body)
		assert.Contains(t, lines[0], `"/run/f.sock"`)
		assert.Contains(t, lines[1], `"VolumeDriver.List"`)
		assert.Contains(t, lines[2], `"/run/f-restarted.sock"`)
	})

	t.Run("exec", func(t *testing.T) {
		tests := []struct {
			name       string
			path       string
			body       string
			wantStatus int
			wantMsg    string
		}{
			{name: "unknown", path: "/plugins/docker:g/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusNotFound, wantMsg: `no plugin "g"`},
			{name: "stopping", path: "/plugins/docker:f/exec", body: `{"Cmd":["stopping"]}`, wantStatus: http.StatusConflict, wantMsg: "plugin is stopping"},
			{name: "upstream", path: "/plugins/docker:f/exec", body: `{"Cmd":["upstream"]}`, wantStatus: http.StatusBadGateway, wantMsg: "exec: dockerd: boom"},
			{name: "invalid", path: "/plugins/docker:f/exec", body: `{"Cmd":["sh"],"WorkingDir":"relative"}`, wantStatus: http.StatusBadRequest, wantMsg: "invalid exec config"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, err := srv.Client().Post(srv.URL+tt.path, "application/json", strings.NewReader(tt.body))
				require.NoError(t, err)
				defer resp.Body.Close()
				assert.Equal(t, tt.wantStatus, resp.StatusCode)
				assert.Empty(t, resp.Header.Get("Upgrade"))
				var e map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
				assert.Contains(t, e["message"], tt.wantMsg)
			})
		}

		t.Run("cannot start", func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			body := `{"Cmd":["nosuch"]}`
			_, err = fmt.Fprintf(conn, "POST /plugins/docker:f/exec HTTP/1.1\r\nHost: plugdbg\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			require.NoError(t, err)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			assert.Equal(t, ExecMediaType, resp.Header.Get("Content-Type"))
			f, err := execproto.NewReader(br).ReadFrame()
			require.NoError(t, err)
			require.Equal(t, execproto.Exit, f.Type)
			var exit types.ExecExit
			require.NoError(t, json.Unmarshal(f.Payload, &exit))
			assert.Equal(t, types.ExecExit{ExitCode: 127, Error: "nosuch: not found"}, exit)
		})
	})

	t.Run("lifecycle is not for docker targets", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL+"/plugins/docker:f/enable", "", nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, ref := range fake.refs {
		assert.NotContains(t, ref, dockerd.Prefix, "the backend gets the name without the prefix")
	}
}
