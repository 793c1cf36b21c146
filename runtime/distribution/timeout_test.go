package distribution_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
	"github.com/plugdbg/plugdbg/runtime/distribution"
)

// bound is the registry timeout of these tests: small, since every wait
// it ends is one that nothing will ever answer.
const bound = 200 * time.Millisecond

// brokenDeadline is the context of a request that a bug would leave
// waiting: generous, so that it never decides a working test.
func brokenDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func requireTimeout(t *testing.T, err error, host, step string) {
	t.Helper()
	require.Error(t, err)
	var te *distribution.TimeoutError
	require.ErrorAs(t, err, &te, "%v", err)
	assert.Equal(t, host, te.Registry)
	assert.Equal(t, step, te.Step)
	assert.Equal(t, bound, te.Bound)
	assert.Contains(t, err.Error(), "registry "+host+": no answer ("+step+") within 200ms")
}

// TestTimeoutSteps: a request to a registry that stops answering at each
// step fails with a TimeoutError naming the registry and the step.
func TestTimeoutSteps(t *testing.T) {
	silent := testregistry.Silent(t)
	var dialDeadline atomic.Pointer[time.Duration]
	// A dial that never connects: a loopback listener answers the SYN
	// even with a full backlog, so a hung connect is faked in the dialer.
	hungDial := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		if d, ok := ctx.Deadline(); ok {
			left := time.Until(d)
			dialDeadline.Store(&left)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	tests := []struct {
		name      string
		transport *http.Transport
		method    string
		url       string
		body      io.Reader
		host      string
		step      string
	}{
		{name: "connect", transport: hungDial, method: http.MethodGet, url: "http://127.0.0.1:5999/v2/", host: "127.0.0.1:5999", step: distribution.StepConnect},
		{name: "TLS handshake", method: http.MethodGet, url: "https://" + silent + "/v2/", host: silent, step: distribution.StepTLS},
		{name: "headers", method: http.MethodGet, url: "http://" + silent + "/v2/", host: silent, step: distribution.StepHeaders},
		// More than the socket buffers take: the transport blocks writing.
		{name: "upload", method: http.MethodPut, url: "http://" + silent + "/v2/x/blobs/uploads/1", body: io.LimitReader(zeros{}, 1<<30), host: silent, step: distribution.StepUpload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := distribution.New(distribution.Options{Timeout: bound, Transport: tt.transport})
			req, err := http.NewRequestWithContext(brokenDeadline(t), tt.method, tt.url, tt.body)
			require.NoError(t, err)
			resp, err := g.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			requireTimeout(t, err, tt.host, tt.step)
		})
	}
	left := dialDeadline.Load()
	require.NotNil(t, left, "the dialer gets a deadline")
	assert.LessOrEqual(t, *left, bound, "the dialer's deadline is the bound")
}

// TestSilentRegistry: a pull, a privileges lookup (the same Fetch) and a
// push against a registry that accepts and never answers fail with the
// registry and the step, and a timeout is not retried.
func TestSilentRegistry(t *testing.T) {
	host := testregistry.Silent(t)
	var dials atomic.Int32
	counting := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	g := distribution.New(distribution.Options{Timeout: bound, Transport: counting}) // the default retries
	ref, err := g.ParseRef(host + "/silent/p:latest")
	require.NoError(t, err)

	_, err = g.Fetch(brokenDeadline(t), ref, noAuth)
	// A loopback registry is pinged over HTTPS and plain HTTP.
	requireTimeout(t, err, host, distribution.StepTLS)
	assert.Contains(t, err.Error(), "registry "+host+": no answer (headers) within 200ms")
	assert.Equal(t, int32(2), dials.Load(), "one connection per scheme: timeouts are not retried")

	_, err = g.Push(brokenDeadline(t), ref, makeRootfs(t), parseConfig(t), t.TempDir(), noAuth, nil)
	requireTimeout(t, err, host, distribution.StepTLS)
	assert.Contains(t, err.Error(), "registry "+host+": no answer (headers) within 200ms")
}

// TestBodyStallMidLayer: a registry that sends half a layer and then
// nothing fails the pull with the body step.
func TestBodyStallMidLayer(t *testing.T) {
	var stall atomic.Value
	stall.Store("none")
	host, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+stall.Load().(string)) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			body := rec.Body.Bytes()
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the client gives up
		})
	})
	digests := put(t, host, "stall:latest", image{tars: [][]byte{makeTar(t, pluginBin, tarEntry{name: "data", body: strings.Repeat("x", 64<<10), typ: tar.TypeReg, mode: 0o644})}})
	stall.Store(digests[0])
	g := distribution.New(distribution.Options{Timeout: bound})
	_, rootfs, err := pull(t, g, host+"/stall:latest", noAuth)
	requireTimeout(t, err, host, distribution.StepBody)
	assert.Contains(t, err.Error(), "fetch layer "+digests[0])
	assert.NoFileExists(t, filepath.Join(rootfs, "bin", "plugin"))
}

// TestPushStalledUpload: a registry that takes the upload of a layer and
// never answers fails the push.
func TestPushStalledUpload(t *testing.T) {
	host, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				// Read it all: only then does the server notice the
				// client going away.
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	g := distribution.New(distribution.Options{Timeout: bound})
	ref, err := g.ParseRef(host + "/stalled/p:latest")
	require.NoError(t, err)
	_, err = g.Push(brokenDeadline(t), ref, makeRootfs(t), parseConfig(t), t.TempDir(), noAuth, nil)
	// The upload went through; it is the answer that never comes.
	requireTimeout(t, err, host, distribution.StepHeaders)
	assert.Contains(t, err.Error(), "push layer")
}

// TestSlowSteadyBody: a body whose bytes keep coming, each well within the
// bound, is read to the end however long it takes in all.
func TestSlowSteadyBody(t *testing.T) {
	const (
		steadyBound = time.Second
		chunks      = 50
		pace        = 50 * time.Millisecond // chunks × pace is 2.5 × steadyBound
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range chunks {
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(pace): // the pace of a slow link, not a wait for anything
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	g := distribution.New(distribution.Options{Timeout: steadyBound})
	req, err := http.NewRequestWithContext(brokenDeadline(t), http.MethodGet, srv.URL+"/v2/blob", nil)
	require.NoError(t, err)
	resp, err := g.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Len(t, data, chunks*10)
}

// TestSlowReaderIsNotTimedOut: the bound counts the wait for the registry
// inside a read, not the reader's own time between reads.
func TestSlowReaderIsNotTimedOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release: // the reader has been away for longer than the bound
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second")
	}))
	t.Cleanup(srv.Close)
	g := distribution.New(distribution.Options{Timeout: bound})
	req, err := http.NewRequestWithContext(brokenDeadline(t), http.MethodGet, srv.URL+"/v2/blob", nil)
	require.NoError(t, err)
	resp, err := g.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	// Away from the body for longer than the bound, with nothing pending.
	busy := time.NewTimer(3 * bound)
	<-busy.C
	close(release)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "second", string(rest))
}

// TestCallerCancelIsNotATimeout: the caller's own context ending is
// reported as such, not as a silent registry.
func TestCallerCancelIsNotATimeout(t *testing.T) {
	host := testregistry.Silent(t)
	g := distribution.New(distribution.Options{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
	require.NoError(t, err)
	go cancel()
	_, err = g.RoundTrip(req)
	require.Error(t, err)
	var te *distribution.TimeoutError
	assert.False(t, errors.As(err, &te), "%v", err)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCheckTimeout(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		ok   bool
	}{
		{"zero", 0, false},
		{"negative", -time.Second, false},
		{"default", distribution.DefaultTimeout, true},
		{"tiny", time.Millisecond, true},
		{"max", distribution.MaxTimeout, true},
		{"above max", distribution.MaxTimeout + time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := distribution.CheckTimeout(tt.d)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "at most 10m0s")
			}
		})
	}
}
