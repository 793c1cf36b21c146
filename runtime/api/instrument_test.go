package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/api"
	"github.com/plugdbg/plugdbg/runtime/api/apitest"
)

// TestRoute: every path the API serves has a route template that holds
// no plugin name, and the streams are marked.
func TestRoute(t *testing.T) {
	tests := []struct {
		method, path string
		route        string
		stream       bool
	}{
		{"GET", "/_ping", "/_ping", false},
		{"HEAD", "/v1.44/_ping", "/_ping", false},
		{"POST", "/auth", "/auth", false},
		{"GET", "/version", "/version", false},
		{"GET", "/v1.41/events", "/events", true},
		{"GET", "/logs", "/logs", true},
		{"GET", "/plugins", "/plugins", false},
		{"POST", "/plugins/create", "/plugins/create", false},
		{"GET", "/plugins/privileges", "/plugins/privileges", false},
		{"POST", "/v1.44/plugins/pull", "/plugins/pull", false},
		{"GET", "/plugins/myvol/json", "/plugins/{name}/json", false},
		{"GET", "/plugins/localhost:5000/team/myvol:1.2/json", "/plugins/{name}/json", false},
		{"GET", "/plugins/docker:vieux/sshfs:latest/json", "/plugins/{name}/json", false},
		{"POST", "/plugins/myvol/enable", "/plugins/{name}/enable", false},
		{"POST", "/plugins/myvol/disable", "/plugins/{name}/disable", false},
		{"POST", "/plugins/myvol/set", "/plugins/{name}/set", false},
		{"POST", "/plugins/myvol/push", "/plugins/{name}/push", false},
		{"POST", "/plugins/myvol/upgrade", "/plugins/{name}/upgrade", false},
		{"POST", "/plugins/myvol/log-opts", "/plugins/{name}/log-opts", false},
		{"POST", "/plugins/myvol/publish", "/plugins/{name}/publish", false},
		{"GET", "/plugins/myvol/top", "/plugins/{name}/top", false},
		{"GET", "/plugins/myvol/usage", "/plugins/{name}/usage", false},
		{"GET", "/plugins/myvol/stats", "/plugins/{name}/stats", true},
		{"GET", "/plugins/myvol/logs", "/plugins/{name}/logs", true},
		{"GET", "/plugins/myvol/trace", "/plugins/{name}/trace", true},
		{"POST", "/plugins/myvol/exec", "/plugins/{name}/exec", true},
		{"POST", "/plugins/myvol/connect", "/plugins/{name}/connect", true},
		{"DELETE", "/plugins/team/myvol:latest", "/plugins/{name}", false},
		{"GET", "/ui", "/ui", true},
		{"GET", "/ui/assets/app.js", "/ui", true},
		{"GET", "/plugins/myvol/nosuch", "other", false},
		{"GET", "/plugins/myvol", "other", false},
		{"GET", "/plugins/", "other", false},
		{"GET", "/containers/json", "other", false},
		{"GET", "/", "other", false},
		{"GET", "/uix", "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			route, stream := api.Route(tt.method, tt.path)
			assert.Equal(t, tt.route, route)
			assert.Equal(t, tt.stream, stream)
		})
	}
	assert.Equal(t, "GET", api.Method("GET"))
	assert.Equal(t, "other", api.Method("BREW"))
}

// request is one request a RequestObserver was told of.
type request struct {
	route, method string
	code          int
	stream        bool
}

// requestLog is a RequestObserver that keeps what it is told.
type requestLog struct {
	mu   sync.Mutex
	reqs []request
}

func (l *requestLog) Request(route, method string, code int, d time.Duration, stream bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, request{route, method, code, stream})
}

func (l *requestLog) all() []request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]request(nil), l.reqs...)
}

// TestInstrument serves the real API through Instrument: each request is
// reported once answered, with its route template, method and status;
// a tunnel (hijacked, 101) when it ends, and streams still flush.
func TestInstrument(t *testing.T) {
	var rl requestLog
	served := apitest.ServeWith(t, apitest.Options{Running: "p.sock", Requests: &rl})
	s := testServerOn(t, served.Socket)

	status, _, _ := s.do(t, http.MethodGet, "/_ping", nil)
	require.Equal(t, http.StatusOK, status)
	s.create(t, "team/p")
	status, _, body := s.do(t, http.MethodPost, "/v1.44/plugins/team/p/enable?timeout=10", nil)
	require.Equal(t, http.StatusOK, status, "enable: %s", body)
	status, _, _ = s.do(t, http.MethodGet, "/plugins/nosuch/json", nil)
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = s.do(t, http.MethodGet, "/nosuch", nil)
	require.Equal(t, http.StatusNotFound, status)

	// A stream: the events since the start, until now; the first line
	// reaches the client through the middleware's Flush.
	resp, err := s.http.Get(fmt.Sprintf("http://plugdbg/events?since=0&until=%d", time.Now().Add(time.Hour).Unix()))
	require.NoError(t, err)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, `"create"`)
	resp.Body.Close()

	// A tunnel: hijacked, it answers 101 itself.
	conn, err := dialTunnel(testContext(t), served.Socket, "team/p")
	require.NoError(t, err)
	_, err = fmt.Fprint(conn, "POST /VolumeDriver.List HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n\r\n")
	require.NoError(t, err)
	pr, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	pr.Body.Close()
	conn.Close()

	status, _, _ = s.do(t, http.MethodDelete, "/plugins/team/p?force=1", nil)
	require.Equal(t, http.StatusOK, status)

	want := []request{
		{"/_ping", "GET", 200, false},
		{"/plugins/create", "POST", 204, false},
		{"/plugins/{name}/enable", "POST", 200, false},
		{"/plugins/{name}/json", "GET", 404, false},
		{"other", "GET", 404, false},
		{"/events", "GET", 200, true},
		{"/plugins/{name}/connect", "POST", 101, true},
		{"/plugins/{name}", "DELETE", 200, false},
	}
	require.Eventually(t, func() bool { return len(rl.all()) >= len(want) }, 10*time.Second, time.Millisecond, "every request reported")
	got := rl.all()
	// The event stream and the tunnel end when their server side sees
	// the client gone, in either order relative to the requests after.
	sortStreamsLast := func(rs []request) []request {
		var plain, streams []request
		for _, r := range rs {
			if r.stream {
				streams = append(streams, r)
			} else {
				plain = append(plain, r)
			}
		}
		return append(plain, streams...)
	}
	assert.Equal(t, sortStreamsLast(want), sortStreamsLast(got))
}

// TestStatusWriter: the status reported is the one written; 200 for a
// handler that wrote nothing or only a body; 101 for a hijacked
// connection; a writer that cannot be hijacked says so.
func TestStatusWriter(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    int
	}{
		{"nothing", func(http.ResponseWriter, *http.Request) {}, 200},
		{"body", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) }, 200},
		{"status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusConflict) }, 409},
		{"flush", func(w http.ResponseWriter, _ *http.Request) { w.(http.Flusher).Flush() }, 200},
		{"hijack without a hijacker", func(w http.ResponseWriter, _ *http.Request) {
			_, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rl requestLog
			rec := httptest.NewRecorder()
			api.Instrument(tt.handler, &rl).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/version", nil))
			assert.Equal(t, []request{{"/version", "GET", tt.code, false}}, rl.all())
			assert.Equal(t, tt.code, rec.Code)
		})
	}
	t.Run("nil observer", func(t *testing.T) {
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
		assert.NotNil(t, api.Instrument(h, nil))
		rec := httptest.NewRecorder()
		api.Instrument(h, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, 200, rec.Code)
	})
}
