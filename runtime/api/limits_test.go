package api_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/format/config"
)

// jsonArrayOf is a JSON array of strings of n bytes or a little more.
func jsonArrayOf(n int) string {
	return `["DEBUG=` + strings.Repeat("x", n) + `"]`
}

// chunked hides the length of body, so that the request carries no
// Content-Length and the server finds the size only by reading.
func chunked(body string) io.Reader { return io.MultiReader(strings.NewReader(body)) }

// TestBodyLimits: each JSON body is refused with 413 past its endpoint's
// bound, whether its Content-Length says so up front or not, with a
// message naming the bound and the endpoint, and a refused set changes
// nothing.
func TestBodyLimits(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	tests := []struct {
		name    string
		path    string
		limit   int
		wantMsg string
	}{
		{name: "set", path: "/plugins/p/set", limit: 64 << 10, wantMsg: "request body over the 64KiB limit of POST /plugins/{name}/set"},
		{name: "log-opts", path: "/plugins/p/log-opts", limit: 4 << 10, wantMsg: "request body over the 4KiB limit of POST /plugins/{name}/log-opts"},
		{name: "exec", path: "/plugins/p/exec", limit: 256 << 10, wantMsg: "request body over the 256KiB limit of POST /plugins/{name}/exec"},
		{name: "pull", path: "/plugins/pull?remote=localhost:1/x", limit: 1 << 20, wantMsg: "request body over the 1MiB limit of POST /plugins/pull"},
		{name: "upgrade", path: "/plugins/p/upgrade?remote=localhost:1/x", limit: 1 << 20, wantMsg: "request body over the 1MiB limit of POST /plugins/{name}/upgrade"},
	}
	for _, tt := range tests {
		body := jsonArrayOf(tt.limit)
		for _, sized := range []bool{true, false} {
			name := tt.name + " with Content-Length"
			r := io.Reader(strings.NewReader(body))
			if !sized {
				name, r = tt.name+" chunked", chunked(body)
			}
			t.Run(name, func(t *testing.T) {
				before := s.inspect(t, "p")
				status, _, answer := s.do(t, http.MethodPost, tt.path, r)
				assert.Equal(t, http.StatusRequestEntityTooLarge, status)
				assert.Equal(t, tt.wantMsg, errorMessage(t, answer))
				assert.Equal(t, before, s.inspect(t, "p"), "a refused body changes nothing")
			})
		}
	}
}

// TestSetBodyAtTheLimit: a set body of exactly the bound is read and
// judged on its contents.
func TestSetBodyAtTheLimit(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	body := jsonArrayOf(64<<10 - len(jsonArrayOf(0)))
	require.Len(t, body, 64<<10)
	status, _, answer := s.do(t, http.MethodPost, "/plugins/p/set", strings.NewReader(body))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `setting "DEBUG": value of 65526 bytes, over the 32KiB limit`, errorMessage(t, answer))
}

// TestSetValidation: what the body holds is checked before anything is
// stored: one JSON value and nothing after it, no NUL bytes, bounded
// values and counts.
func TestSetValidation(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	many, _ := json.Marshal(make([]string, config.MaxSetArgs+1))
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMsg    string // exact
	}{
		{name: "trailing array", body: `["DEBUG=1"] ["DEBUG=2"]`, wantStatus: http.StatusBadRequest, wantMsg: "invalid body: want a JSON array of KEY=VALUE strings: trailing data after the JSON value"},
		{name: "trailing bracket", body: `["DEBUG=1"]]`, wantStatus: http.StatusBadRequest, wantMsg: "invalid body: want a JSON array of KEY=VALUE strings: trailing data after the JSON value: invalid character ']' looking for beginning of value"},
		{name: "trailing word", body: "[\"DEBUG=1\"]\ngarbage", wantStatus: http.StatusBadRequest, wantMsg: "invalid body: want a JSON array of KEY=VALUE strings: trailing data after the JSON value: invalid character 'g' looking for beginning of value"},
		{name: "empty", body: "", wantStatus: http.StatusBadRequest, wantMsg: "invalid body: want a JSON array of KEY=VALUE strings: the body is empty"},
		{name: "NUL in a value", body: `["DEBUG=1\u0000x"]`, wantStatus: http.StatusBadRequest, wantMsg: `setting "DEBUG": value contains a NUL byte`},
		{name: "value over its bound", body: jsonArrayOf(config.MaxSettingValue + 1), wantStatus: http.StatusBadRequest, wantMsg: `setting "DEBUG": value of 32769 bytes, over the 32KiB limit`},
		{name: "too many settings", body: string(many), wantStatus: http.StatusBadRequest, wantMsg: "129 settings in one set, over the limit of 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := s.do(t, http.MethodPost, "/plugins/p/set", strings.NewReader(tt.body))
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantMsg, errorMessage(t, body))
			assert.Equal(t, []string{"DEBUG=0"}, s.inspect(t, "p").Settings.Env, "a refused set changes nothing")
		})
	}
	t.Run("trailing white space is fine", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodPost, "/plugins/p/set", strings.NewReader("[\"DEBUG=1\"]\n \t\n"))
		require.Equal(t, http.StatusNoContent, status, string(body))
		assert.Equal(t, []string{"DEBUG=1"}, s.inspect(t, "p").Settings.Env)
	})
}

// TestLogOptsTrailingData: the other applyJSON endpoint refuses trailing
// data too.
func TestLogOptsTrailingData(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	status, _, body := s.do(t, http.MethodPost, "/plugins/p/log-opts", strings.NewReader(`{"max-file":"2"}{}`))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid body: want a JSON object of log options: trailing data after the JSON value", errorMessage(t, body))
}

// TestExecConfigValidation: a config no process could start with is a 400
// before anything else, the plugin's state included, is looked at.
func TestExecConfigValidation(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p") // disabled: a valid config would get 409
	tests := []struct {
		name    string
		body    string
		wantMsg string
	}{
		{name: "relative WorkingDir", body: `{"Cmd":["pwd"],"WorkingDir":"tmp"}`, wantMsg: `invalid exec config: WorkingDir "tmp": must be an absolute path in the container`},
		{name: "dot WorkingDir", body: `{"Cmd":["pwd"],"WorkingDir":"./tmp"}`, wantMsg: `invalid exec config: WorkingDir "./tmp": must be an absolute path in the container`},
		{name: "NUL in Cmd", body: `{"Cmd":["ls","a\u0000b"]}`, wantMsg: "invalid exec config: Cmd[1]: contains a NUL byte"},
		{name: "NUL in Env", body: `{"Cmd":["ls"],"Env":["A=\u0000"]}`, wantMsg: "invalid exec config: Env[0]: contains a NUL byte"},
		{name: "trailing data", body: `{"Cmd":["ls"]}x`, wantMsg: "invalid exec config: trailing data after the JSON value: invalid character 'x' looking for beginning of value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := s.do(t, http.MethodPost, "/plugins/p/exec", strings.NewReader(tt.body))
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Empty(t, h.Get("Upgrade"))
			assert.Equal(t, tt.wantMsg, errorMessage(t, body))
		})
	}
	t.Run("absolute WorkingDir passes", func(t *testing.T) {
		status, _, body := s.do(t, http.MethodPost, "/plugins/p/exec", strings.NewReader(`{"Cmd":["pwd"],"WorkingDir":"/tmp"}`))
		assert.Equal(t, http.StatusConflict, status, "on to the plugin's state: %s", body)
	})
}

// TestPrivilegesBody: pull and upgrade take no body, an empty one or a
// JSON array of privileges, and nothing after it.
func TestPrivilegesBody(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	status, _, body := s.do(t, http.MethodPost, "/plugins/pull?remote=localhost:1/x", strings.NewReader(`[] []`))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid body: want a JSON array of privileges: trailing data after the JSON value", errorMessage(t, body))

	// An empty chunked body accepts no privileges, as no body does: the
	// request goes on, to refuse an upgrade of an enabled plugin... or
	// here, to a registry nobody serves.
	for _, r := range []io.Reader{nil, chunked("")} {
		status, _, body = s.do(t, http.MethodPost, "/plugins/p/upgrade?remote=p", r)
		assert.NotEqual(t, http.StatusBadRequest, status, string(body))
		assert.NotEqual(t, http.StatusRequestEntityTooLarge, status, string(body))
	}
}

// TestCreateContextLimit: a build context over the daemon's bounds is a
// 413 naming the bound, found from the entry's header before its data.
func TestCreateContextLimit(t *testing.T) {
	s := newTestServer(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "rootfs/huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4<<30 + 1}))
	// The data never comes: the header alone must be refused.
	status, _, body := s.do(t, http.MethodPost, "/plugins/create?name="+url.QueryEscape("big"), &buf)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, `create big:latest: build context over the 4GiB limit of unpacked size (at tar entry "rootfs/huge")`, errorMessage(t, body))
	status, _, _ = s.do(t, http.MethodGet, "/plugins/big/json", nil)
	assert.Equal(t, http.StatusNotFound, status)
}
