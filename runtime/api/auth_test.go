package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestAuth: POST /auth is Docker's login check. Good credentials answer
// {"Status": "Login Succeeded"}, refused ones 401 with the registry's
// reason, and a body that is no AuthConfig is a 400.
func TestAuth(t *testing.T) {
	host, _ := testregistry.Start(t, testregistry.BasicAuth("alice", "s3cret"))
	s := newTestServer(t)

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMsg    string
	}{
		{
			name:       "accepted",
			body:       `{"username":"alice","password":"s3cret","serveraddress":"` + host + `"}`,
			wantStatus: http.StatusOK,
		},
		{
			name:       "accepted, the server address as a URL",
			body:       `{"username":"alice","password":"s3cret","serveraddress":"http://` + host + `/"}`,
			wantStatus: http.StatusOK,
		},
		{
			name:       "wrong password",
			body:       `{"username":"alice","password":"wrong","serveraddress":"` + host + `"}`,
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "unauthorized: authentication required",
		},
		{
			name:       "no credentials",
			body:       `{"serveraddress":"` + host + `"}`,
			wantStatus: http.StatusUnauthorized,
			wantMsg:    "unauthorized",
		},
		{
			name:       "not an AuthConfig",
			body:       `["alice"]`,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "invalid body: want registry.AuthConfig",
		},
		{
			name:       "over the bound",
			body:       `{"username":"` + strings.Repeat("a", 64<<10) + `"}`,
			wantStatus: http.StatusRequestEntityTooLarge,
			wantMsg:    "POST /auth",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := s.do(t, http.MethodPost, "/v1.41/auth", strings.NewReader(tt.body))
			require.Equal(t, tt.wantStatus, status, "%s", body)
			if tt.wantStatus != http.StatusOK {
				assert.Contains(t, errorMessage(t, body), tt.wantMsg)
				return
			}
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
			var got map[string]string
			require.NoError(t, json.Unmarshal(body, &got), "%s", body)
			assert.Equal(t, map[string]string{"Status": "Login Succeeded"}, got)
		})
	}
}
