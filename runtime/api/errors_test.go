package api_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// fakeDockerd serves h as dockerd's API on a unix socket and returns a
// host for it.
func fakeDockerd(t *testing.T, h http.Handler) *dockerd.Host {
	t.Helper()
	sock := filepath.Join(apitest.ShortTempDir(t), "docker.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := dockerd.NewClient("unix://" + sock)
	require.NoError(t, err)
	return &dockerd.Host{API: c}
}

// TestErrorStatuses checks the statuses of the error kinds the other API
// tests do not reach: a registry's refused login, and what dockerd answers.
func TestErrorStatuses(t *testing.T) {
	host, _ := testregistry.Start(t, testregistry.BasicAuth("u", "p"))
	s := newTestServer(t)
	q := url.Values{"remote": {host + "/api/p:1"}}.Encode()
	status, _, body := s.do(t, http.MethodGet, "/plugins/privileges?"+q, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "a registry that wants credentials")
	assert.Contains(t, errorMessage(t, body), "unauthorized")

	dockerAPI := http.NewServeMux()
	dockerAPI.HandleFunc("GET /plugins", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"message": "boom"}`)
	})
	dockerAPI.HandleFunc("GET /plugins/{ref}/json", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message": "plugin `+r.PathValue("ref")+` not found"}`)
	})
	log := logrus.New()
	log.SetOutput(io.Discard)
	// The docker routes never reach the manager.
	withDocker := api.New(nil, nil, log).WithDocker(fakeDockerd(t, dockerAPI), nil)
	without := api.New(nil, nil, log)

	tests := []struct {
		name       string
		handler    http.Handler
		path       string
		wantStatus int
		wantMsg    string
	}{
		{name: "dockerd fails", handler: withDocker, path: "/plugins?docker=1", wantStatus: http.StatusBadGateway, wantMsg: "list dockerd's plugins: dockerd: boom"},
		{name: "dockerd has no such plugin", handler: withDocker, path: "/plugins/docker:x/json", wantStatus: http.StatusNotFound, wantMsg: `plugin "x" not found in dockerd (dockerd: plugin x not found)`},
		{name: "bad filters for dockerd", handler: withDocker, path: "/plugins?docker=1&filters=nope", wantStatus: http.StatusBadRequest},
		{name: "no dockerd", handler: without, path: "/plugins?docker=1", wantStatus: http.StatusNotImplemented, wantMsg: "the daemon has no dockerd to talk to"},
		{name: "no dockerd for a plugin", handler: without, path: "/plugins/docker:x/json", wantStatus: http.StatusNotImplemented, wantMsg: "the daemon has no dockerd to talk to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			assert.Equal(t, tt.wantStatus, rec.Code)
			msg := errorMessage(t, rec.Body.Bytes())
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, msg)
			}
		})
	}
}
