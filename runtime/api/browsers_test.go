package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/api"
)

// TestRefuseBrowsers: a request a web page made (Origin, or Sec-Fetch-Site
// other than none) is answered 403 with a JSON message before the API
// sees it, on every path; clients that send neither header pass.
func TestRefuseBrowsers(t *testing.T) {
	tests := []struct {
		name, method, path string
		header             map[string]string
		refused            bool
	}{
		{name: "client", method: http.MethodGet, path: "/plugins"},
		{name: "client POST", method: http.MethodPost, path: "/plugins/p/enable"},
		{name: "typed in the address bar", method: http.MethodGet, path: "/_ping", header: map[string]string{"Sec-Fetch-Site": "none"}},
		{name: "cross-origin POST", method: http.MethodPost, path: "/plugins/p/enable", header: map[string]string{"Origin": "http://evil.example"}, refused: true},
		{name: "opaque origin", method: http.MethodPost, path: "/plugins/create", header: map[string]string{"Origin": "null"}, refused: true},
		{name: "empty origin", method: http.MethodGet, path: "/plugins", header: map[string]string{"Origin": ""}, refused: true},
		{name: "same-origin fetch (DNS rebinding)", method: http.MethodGet, path: "/plugins", header: map[string]string{"Sec-Fetch-Site": "same-origin"}, refused: true},
		{name: "cross-site fetch", method: http.MethodGet, path: "/events", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, refused: true},
		{name: "same-site fetch", method: http.MethodGet, path: "/version", header: map[string]string{"Sec-Fetch-Site": "same-site"}, refused: true},
		{name: "versioned path", method: http.MethodGet, path: "/v1.41/plugins", header: map[string]string{"Origin": "http://127.0.0.1:2375"}, refused: true},
		{name: "ui path", method: http.MethodGet, path: "/ui/", header: map[string]string{"Origin": "http://127.0.0.1:7777", "Sec-Fetch-Site": "same-origin"}, refused: true},
		{name: "websocket", method: http.MethodGet, path: "/ui/ws", header: map[string]string{
			"Origin": "http://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
		}, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			h := api.RefuseBrowsers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				reached = true
				w.WriteHeader(http.StatusNoContent)
			}))
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !tt.refused {
				assert.True(t, reached)
				assert.Equal(t, http.StatusNoContent, rec.Code)
				return
			}
			assert.False(t, reached, "the API saw a browser's request")
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body struct{ Message string }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.Contains(t, body.Message, "API does not serve browsers")
			assert.Contains(t, body.Message, "plugdbg ui")
		})
	}
}
