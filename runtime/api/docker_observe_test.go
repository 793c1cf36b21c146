package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDockerObserveRoutes: observe and calls are the lifecycle endpoints a
// docker:NAME target has; a daemon that cannot observe dockerd's plugins
// says so (501), and other methods are not found. (The observation itself
// is tested in runtime/dockerobserve and the integration suite.)
func TestDockerObserveRoutes(t *testing.T) {
	d := newDockerTargets(t)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantMsg    string
	}{
		{name: "observe", method: http.MethodPost, path: "/plugins/docker:p/observe?on=1", wantStatus: http.StatusNotImplemented, wantMsg: "this daemon cannot observe dockerd's plugins"},
		{name: "calls", method: http.MethodGet, path: "/plugins/docker:p/calls", wantStatus: http.StatusNotImplemented, wantMsg: "this daemon cannot observe dockerd's plugins"},
		{name: "observe with GET", method: http.MethodGet, path: "/plugins/docker:p/observe", wantStatus: http.StatusNotFound, wantMsg: "page not found"},
		{name: "calls with POST", method: http.MethodPost, path: "/plugins/docker:p/calls", wantStatus: http.StatusNotFound, wantMsg: "page not found"},
		{name: "publish", method: http.MethodPost, path: "/plugins/docker:p/publish?on=1", wantStatus: http.StatusNotFound, wantMsg: "page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := d.do(t, tt.method, tt.path, nil)
			assert.Equal(t, tt.wantStatus, status)
			assert.Contains(t, errorMessage(t, body), tt.wantMsg)
		})
	}
	in := d.inspect(t, "docker:p")
	assert.False(t, in.State.Observed)
	assert.False(t, in.State.Recording)
}
