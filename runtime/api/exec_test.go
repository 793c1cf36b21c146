package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExecErrorsBeforeUpgrade: what keeps an exec, top or stats from
// starting is an ordinary HTTP error with Docker's status codes, never an
// upgraded stream.
func TestExecErrorsBeforeUpgrade(t *testing.T) {
	s := newTestServer(t)
	s.create(t, "p")
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{name: "exec unknown", method: http.MethodPost, path: "/plugins/nosuch/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusNotFound, wantMsg: `plugin "nosuch" not found`},
		{name: "exec disabled", method: http.MethodPost, path: "/plugins/p/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusConflict, wantMsg: "cannot exec in plugin p:latest: it is disabled (enable it first)"},
		{name: "exec with versioned path", method: http.MethodPost, path: "/v1.41/plugins/p/exec", body: `{"Cmd":["sh"]}`, wantStatus: http.StatusConflict, wantMsg: "disabled"},
		{name: "exec without a command", method: http.MethodPost, path: "/plugins/p/exec", body: `{"Cmd":[]}`, wantStatus: http.StatusBadRequest, wantMsg: "exec needs a command"},
		{name: "exec with a bad body", method: http.MethodPost, path: "/plugins/p/exec", body: `{"Cmd":"sh"}`, wantStatus: http.StatusBadRequest, wantMsg: "invalid exec config"},
		{name: "exec with GET", method: http.MethodGet, path: "/plugins/p/exec", wantStatus: http.StatusNotFound, wantMsg: "page not found"},
		{name: "top unknown", method: http.MethodGet, path: "/plugins/nosuch/top", wantStatus: http.StatusNotFound, wantMsg: "not found"},
		{name: "top disabled", method: http.MethodGet, path: "/plugins/p/top", wantStatus: http.StatusConflict, wantMsg: "cannot list processes of plugin p:latest: it is disabled"},
		{name: "stats disabled", method: http.MethodGet, path: "/plugins/p/stats", wantStatus: http.StatusConflict, wantMsg: "cannot read stats of plugin p:latest: it is disabled"},
		{name: "stats bad stream", method: http.MethodGet, path: "/plugins/p/stats?stream=maybe", wantStatus: http.StatusBadRequest, wantMsg: "stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := s.do(t, tt.method, tt.path, strings.NewReader(tt.body))
			assert.Equal(t, tt.wantStatus, status)
			assert.Empty(t, h.Get("Upgrade"))
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
		})
	}
}
