package distribution

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Bounds of Options.Timeout. Each step of a registry request gets the
// whole bound, and only while it makes no progress: a registry that is up
// answers a connect, a handshake or a request within seconds, and a moving
// download delivers bytes many times a second, so 30 s of silence means a
// registry that is gone or stuck. It is also what Go's and dockerd's
// dialers allow a connect. A silent registry thus fails an install after
// about 30 s (a loopback registry is pinged over HTTPS and plain HTTP side
// by side, not one after the other). Beyond MaxTimeout, a wait is no
// longer a bound.
const (
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 10 * time.Minute
)

// Steps of a registry request, as TimeoutError names them.
const (
	StepConnect = "connect"       // DNS, TCP connect, waiting for a connection
	StepTLS     = "TLS handshake" // after the TCP connect
	StepUpload  = "upload"        // the registry stopped taking the request body
	StepHeaders = "headers"       // the request is sent; no response yet
	StepBody    = "body"          // a response body stopped in the middle
)

// TimeoutError is the error for a registry that made no progress in one
// step of a request for the whole bound. It is not retried: a registry
// that stayed silent once is not waited for again.
type TimeoutError struct {
	Registry string // host[:port] of the request
	Step     string // one of the Step constants
	Bound    time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("registry %s: no answer (%s) within %s", e.Registry, e.Step, e.Bound)
}

// Timeout reports whether the error is a timeout, as net.Error does: it
// always is.
func (e *TimeoutError) Timeout() bool { return true }

// CheckTimeout returns an error unless d is a usable Options.Timeout:
// more than zero and at most MaxTimeout.
func CheckTimeout(d time.Duration) error {
	if d <= 0 || d > MaxTimeout {
		return fmt.Errorf("%s is out of range: it must be more than 0 and at most %s", d, MaxTimeout)
	}
	return nil
}

// boundTransport gives t's own dials and TLS handshakes the bound too. The
// watch of each request already ends the request at the bound, but the
// transport finishes a dial in the background after the request that
// started it has gone, for the next request to use.
func boundTransport(t *http.Transport, bound time.Duration) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel() // a connected conn outlives its dial context
		return dial(ctx, network, addr)
	}
	t.TLSHandshakeTimeout = bound
}

// watched runs r through t under a watch: one timer, re-armed at each step
// and at each sign of progress, that cancels the request with a
// TimeoutError when it fires. The response body keeps the watch while it
// is read.
func (g *Registry) watched(t http.RoundTripper, r *http.Request) (*http.Response, error) {
	parent := r.Context()
	ctx, cancel := context.WithCancelCause(parent)
	w := &watch{registry: r.URL.Host, bound: g.opts.Timeout, cancel: cancel}
	upload := r.Body != nil && r.Body != http.NoBody
	ctx = httptrace.WithClientTrace(ctx, w.trace(upload))
	r = r.WithContext(ctx)
	if upload {
		r.Body = &uploadBody{ReadCloser: r.Body, w: w}
		if getBody := r.GetBody; getBody != nil {
			r.GetBody = func() (io.ReadCloser, error) {
				b, err := getBody()
				if err != nil {
					return nil, err
				}
				return &uploadBody{ReadCloser: b, w: w}, nil
			}
		}
	}
	w.arm(StepConnect)
	resp, err := t.RoundTrip(r)
	if err != nil {
		if te := w.fail(err, parent); te != nil {
			return nil, te
		}
		return nil, err
	}
	w.startBody()
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w}
	return resp, nil
}

// watch is the timer of one request and the step it is in.
type watch struct {
	registry string
	bound    time.Duration
	cancel   context.CancelCauseFunc

	mu       sync.Mutex
	timer    *time.Timer
	deadline time.Time // zero while nothing is awaited
	step     string
	inBody   bool // the response is in: only body reads arm the timer
	done     bool
	err      *TimeoutError
}

// trace moves the watch along the request's steps. The hooks may run on
// the transport's goroutines, and a dial this request started may report
// after it got another connection: the TLS hooks act only before that.
func (w *watch) trace(upload bool) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		TLSHandshakeStart: func() {
			w.armIf(StepTLS, StepConnect, StepTLS)
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil { // a failed one keeps its step for fail
				w.armIf(StepConnect, StepTLS)
			}
		},
		GotConn: func(httptrace.GotConnInfo) {
			if upload {
				w.arm(StepUpload)
			} else {
				w.arm(StepHeaders)
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { w.arm(StepHeaders) },
	}
}

// arm starts the bound afresh for step, while the request is under way.
func (w *watch) arm(step string) { w.armIf(step) }

// armIf is arm when the current step is one of from (or from is empty).
func (w *watch) armIf(step string, from ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.err != nil || w.inBody != (step == StepBody) {
		return
	}
	if len(from) > 0 {
		ok := false
		for _, s := range from {
			ok = ok || w.step == s
		}
		if !ok {
			return
		}
	}
	w.step = step
	// The deadline is set before the timer, so that a timer that fires
	// finds it passed.
	w.deadline = time.Now().Add(w.bound)
	if w.timer == nil {
		w.timer = time.AfterFunc(w.bound, w.fire)
	} else {
		w.timer.Reset(w.bound)
	}
}

// startBody hands the watch over to the reads of the response body.
func (w *watch) startBody() {
	w.mu.Lock()
	w.inBody = true
	w.mu.Unlock()
	w.pause()
}

// pause stops the clock while nothing is awaited from the registry: a
// body between two reads waits for its reader, not for the registry.
func (w *watch) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Time{}
	if w.timer != nil {
		w.timer.Stop()
	}
}

// fire ends the request if its deadline has passed. A timer re-armed
// while it was firing finds a later deadline and leaves it to the next
// fire.
func (w *watch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.err != nil || w.deadline.IsZero() || time.Now().Before(w.deadline) {
		return
	}
	w.err = &TimeoutError{Registry: w.registry, Step: w.step, Bound: w.bound}
	w.cancel(w.err)
}

// timedOut returns the timeout that ended the request, or nil.
func (w *watch) timedOut() *TimeoutError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// fail ends the watch of a request that failed with err and returns the
// timeout behind err, if any. The transport's own dial and handshake
// bounds (boundTransport) may beat the watch by a hair: a timeout it
// reports while the caller's context is live is named after the step too.
func (w *watch) fail(err error, parent context.Context) *TimeoutError {
	w.mu.Lock()
	var ne net.Error
	if w.err == nil && parent.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
		w.err = &TimeoutError{Registry: w.registry, Step: w.step, Bound: w.bound}
	}
	te := w.err
	w.mu.Unlock()
	w.close()
	return te
}

// close ends the watch and releases the request's context.
func (w *watch) close() {
	w.mu.Lock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancel(nil)
}

// uploadBody is a request body; each read means the transport sent what
// it had, so the upload is moving.
type uploadBody struct {
	io.ReadCloser
	w *watch
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.w.armIf(StepUpload, StepConnect, StepTLS, StepUpload)
	return b.ReadCloser.Read(p)
}

// watchedBody is a response body that fails when a read gets no byte
// within the bound. Only the wait inside a read counts, so a slow reader
// never times the registry out, and a slow download that keeps moving
// never ends.
type watchedBody struct {
	io.ReadCloser
	w *watch
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if te := b.w.timedOut(); te != nil {
		return 0, te
	}
	b.w.arm(StepBody)
	n, err := b.ReadCloser.Read(p)
	b.w.pause()
	if err != nil && err != io.EOF {
		if te := b.w.timedOut(); te != nil {
			return n, te
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.w.close()
	return err
}
