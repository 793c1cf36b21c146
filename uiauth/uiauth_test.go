package uiauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSite(t *testing.T) {
	tests := []struct {
		name             string
		addr             string
		host, origin     string
		hostOK, originOK bool
	}{
		{name: "own name", addr: "127.0.0.1:7777", host: "127.0.0.1:7777", origin: "http://127.0.0.1:7777", hostOK: true, originOK: true},
		{name: "localhost alias of loopback", addr: "127.0.0.1:7777", host: "localhost:7777", origin: "http://localhost:7777", hostOK: true, originOK: true},
		{name: "127.0.0.1 alias of ::1", addr: "[::1]:7777", host: "127.0.0.1:7777", origin: "http://[::1]:7777", hostOK: true, originOK: true},
		{name: "other port", addr: "127.0.0.1:7777", host: "127.0.0.1:7778", origin: "http://127.0.0.1:7778"},
		{name: "rebinding name", addr: "127.0.0.1:7777", host: "evil.example:7777", origin: "http://evil.example:7777"},
		{name: "https origin", addr: "127.0.0.1:7777", host: "127.0.0.1:7777", origin: "https://127.0.0.1:7777", hostOK: true},
		{name: "no origin", addr: "127.0.0.1:7777", host: "127.0.0.1:7777", hostOK: true},
		{name: "null origin", addr: "127.0.0.1:7777", host: "127.0.0.1:7777", origin: "null", hostOK: true},
		{name: "every interface: any host, origin of that host", addr: "0.0.0.0:7777", host: "box:7777", origin: "http://box:7777", hostOK: true, originOK: true},
		{name: "every interface: foreign origin", addr: "0.0.0.0:7777", host: "box:7777", origin: "http://evil.example", hostOK: true},
		{name: "fixed non-loopback address has no aliases", addr: "192.0.2.1:7777", host: "localhost:7777", origin: "http://localhost:7777"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSite(tt.addr)
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/ws", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			assert.Equal(t, tt.hostOK, s.HostOK(tt.host), "host")
			assert.Equal(t, tt.originOK, s.OriginOK(r), "origin")
		})
	}
	_, err := NewSite("nonsense")
	assert.Error(t, err)
}

func TestRequestToken(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{name: "header", header: http.Header{"X-Plugdbg-Token": {"t1"}}, want: "t1"},
		{name: "bearer", header: http.Header{"Authorization": {"Bearer t2"}}, want: "t2"},
		{name: "basic is not a token", header: http.Header{"Authorization": {"Basic dDE6dDI="}}},
		{name: "subprotocol", header: http.Header{"Sec-Websocket-Protocol": {"plugdbg, plugdbg.token.t3"}}, want: "t3"},
		{name: "subprotocol, second header line", header: http.Header{"Sec-Websocket-Protocol": {"plugdbg", "plugdbg.token.t4"}}, want: "t4"},
		{name: "cookie is not a token", header: http.Header{"Cookie": {"plugdbg_token=t5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Header: tt.header, URL: &url.URL{RawQuery: "token=q"}}
			assert.Equal(t, tt.want, RequestToken(r))
		})
	}
}

func TestTokens(t *testing.T) {
	a, err := NewToken()
	require.NoError(t, err)
	b, err := NewToken()
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{64}$`, a)
	assert.NotEqual(t, a, b)
	assert.True(t, TokenEqual(a, a))
	assert.False(t, TokenEqual(a[:10], a), "a prefix")
	assert.False(t, TokenEqual("", ""), "no token set matches nothing")
	assert.Equal(t, "http://127.0.0.1:7777/?token="+a, URL("127.0.0.1:7777", a))
	assert.Equal(t, []string{"plugdbg", "other"}, WithoutToken([]string{"plugdbg", TokenProtocolPrefix + a, "other"}))
}
