package execproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	require.NoError(t, w.WriteFrame(Stdout, []byte("hello")))
	require.NoError(t, w.WriteFrame(CloseStdin, nil))
	require.NoError(t, w.WriteJSON(Exit, types.ExecExit{ExitCode: 3}))
	// The header is stdcopy's: stream byte, three zeros, big-endian length.
	assert.Equal(t, []byte{1, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}, buf.Bytes()[:13])

	r := NewReader(&buf)
	f, err := r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, Frame{Type: Stdout, Payload: []byte("hello")}, f)
	f, err = r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, CloseStdin, f.Type)
	assert.Empty(t, f.Payload)
	f, err = r.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, Exit, f.Type)
	assert.JSONEq(t, `{"ExitCode":3}`, string(f.Payload))
	_, err = r.ReadFrame()
	assert.ErrorIs(t, err, io.EOF, "a clean end between frames")
}

func TestFrameErrors(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  error
		msg   string
	}{
		{name: "truncated header", input: []byte{1, 0, 0}, want: io.ErrUnexpectedEOF},
		{name: "truncated payload", input: []byte{1, 0, 0, 0, 0, 0, 0, 5, 'h'}, want: io.ErrUnexpectedEOF},
		{name: "too large", input: []byte{1, 0, 0, 0, 0x10, 0, 0, 1}, want: ErrTooLarge},
		{name: "reserved bytes set", input: []byte{1, 0, 1, 0, 0, 0, 0, 0}, msg: "invalid exec frame header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.input)).ReadFrame()
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			if tt.msg != "" {
				assert.ErrorContains(t, err, tt.msg)
			}
		})
	}
	assert.ErrorIs(t, NewWriter(io.Discard).WriteFrame(Stdout, make([]byte, MaxPayload+1)), ErrTooLarge)
}

func TestStreamWriterSplitsLargeWrites(t *testing.T) {
	var buf bytes.Buffer
	data := bytes.Repeat([]byte("x"), MaxPayload+10)
	n, err := StreamWriter{W: NewWriter(&buf), T: Stderr}.Write(data)
	require.NoError(t, err)
	assert.Equal(t, len(data), n)
	r := NewReader(&buf)
	var got []byte
	for {
		f, err := r.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, Stderr, f.Type)
		got = append(got, f.Payload...)
	}
	assert.Equal(t, data, got)
}

func TestParseSignal(t *testing.T) {
	for _, s := range []string{"SIGTERM", "TERM", "term", "15"} {
		sig, err := ParseSignal(s)
		require.NoError(t, err, s)
		assert.Equal(t, syscall.SIGTERM, sig, s)
	}
	for _, s := range []string{"", "SIGNOPE", "0", "65", "-1"} {
		_, err := ParseSignal(s)
		assert.Error(t, err, s)
	}
	assert.Equal(t, "SIGWINCH", SignalName(syscall.SIGWINCH))
}

// fakeProcess is a process that echoes its stdin to stdout in upper case
// and records what the session did to it.
type fakeProcess struct {
	inR  *io.PipeReader
	inW  *io.PipeWriter
	outR *io.PipeReader
	outW *io.PipeWriter
	errR *io.PipeReader
	errW *io.PipeWriter

	mu      sync.Mutex
	resizes []types.WindowSize
	signals []syscall.Signal
	exit    chan types.ExecExit
	closed  bool
	// hup, when set, keeps the process running after its stdin's EOF
	// until a SIGHUP, as a shell on a terminal does.
	hup chan struct{}
}

func newFakeProcess() *fakeProcess { return startFake(nil) }

// newHangupProcess is a fakeProcess that ends only with SIGHUP.
func newHangupProcess() *fakeProcess { return startFake(make(chan struct{})) }

func startFake(hup chan struct{}) *fakeProcess {
	p := &fakeProcess{exit: make(chan types.ExecExit, 1), hup: hup}
	p.inR, p.inW = io.Pipe()
	p.outR, p.outW = io.Pipe()
	p.errR, p.errW = io.Pipe()
	go func() {
		data, _ := io.ReadAll(p.inR)
		if hup != nil {
			<-hup
		}
		_, _ = p.outW.Write([]byte(strings.ToUpper(string(data))))
		_, _ = p.errW.Write([]byte("stdin closed\n"))
		p.outW.Close()
		p.errW.Close()
		p.exit <- types.ExecExit{ExitCode: 4}
	}()
	return p
}

func (p *fakeProcess) Stdin() io.WriteCloser          { return p.inW }
func (p *fakeProcess) Output() (io.Reader, io.Reader) { return p.outR, p.errR }
func (p *fakeProcess) Wait() types.ExecExit           { return <-p.exit }
func (p *fakeProcess) Resize(ws types.WindowSize) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resizes = append(p.resizes, ws)
	return nil
}
func (p *fakeProcess) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig == syscall.SIGHUP && p.hup != nil && !slices.Contains(p.signals, sig) {
		close(p.hup)
	}
	p.signals = append(p.signals, sig)
	return nil
}
func (p *fakeProcess) Close() error { p.mu.Lock(); defer p.mu.Unlock(); p.closed = true; return nil }

func TestServe(t *testing.T) {
	p := newFakeProcess()
	server, client := net.Pipe()
	done := make(chan types.ExecExit, 1)
	go func() { done <- Serve(p, NewReader(server), NewWriter(server)) }()

	cw := NewWriter(client)
	require.NoError(t, cw.WriteJSON(Resize, types.WindowSize{Height: 40, Width: 132}))
	require.NoError(t, cw.WriteFrame(Signal, []byte("SIGUSR1")))
	require.NoError(t, cw.WriteJSON(Resize, types.WindowSize{})) // ignored: no size
	require.NoError(t, cw.WriteFrame(Stdin, []byte("abc ")))
	require.NoError(t, cw.WriteFrame(Stdin, []byte("def")))
	require.NoError(t, cw.WriteFrame(CloseStdin, nil))

	var stdout, stderr bytes.Buffer
	var exit types.ExecExit
	r := NewReader(client)
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := r.ReadFrame()
		require.NoError(t, err)
		if f.Type == Exit {
			require.NoError(t, json.Unmarshal(f.Payload, &exit))
			break
		}
		switch f.Type {
		case Stdout:
			stdout.Write(f.Payload)
		case Stderr:
			stderr.Write(f.Payload)
		default:
			t.Fatalf("unexpected frame %v from the server", f.Type)
		}
	}
	assert.Equal(t, "ABC DEF", stdout.String())
	assert.Equal(t, "stdin closed\n", stderr.String())
	assert.Equal(t, types.ExecExit{ExitCode: 4}, exit)
	assert.Equal(t, types.ExecExit{ExitCode: 4}, <-done)
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Equal(t, []types.WindowSize{{Height: 40, Width: 132}}, p.resizes)
	assert.Equal(t, []syscall.Signal{syscall.SIGUSR1}, p.signals)
	assert.True(t, p.closed)
}

func TestServeHangsUpWhenTheClientGoes(t *testing.T) {
	// The fake outlives its stdin's EOF, so only Serve's SIGHUP ends it:
	// had it ended at EOF, Serve could rightly skip the hangup.
	p := newHangupProcess()
	server, client := net.Pipe()
	done := make(chan types.ExecExit, 1)
	go func() { done <- Serve(p, NewReader(server), NewWriter(server)) }()
	client.Close()
	select {
	case st := <-done:
		assert.Equal(t, 4, st.ExitCode)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end after the client went away")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Contains(t, p.signals, syscall.SIGHUP)
}

// fakeGroup is a fakeProcess with children: those that obey SIGHUP end
// with it, the others only with SIGKILL.
type fakeGroup struct {
	*fakeProcess
	obedient, stubborn int // children still running
}

func (g *fakeGroup) SignalGroup(sig syscall.Signal) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if sig != 0 {
		g.signals = append(g.signals, sig)
	}
	switch sig {
	case syscall.SIGHUP:
		g.obedient = 0
	case syscall.SIGKILL:
		g.obedient, g.stubborn = 0, 0
	}
	return g.obedient + g.stubborn, nil
}

func TestServeHangsUpTheWholeGroup(t *testing.T) {
	old := HangupGrace
	t.Cleanup(func() { HangupGrace = old })
	tests := []struct {
		name     string
		stubborn int
		grace    time.Duration // long where it must not expire
		want     []syscall.Signal
	}{
		{name: "children that obey SIGHUP", grace: time.Hour, want: []syscall.Signal{syscall.SIGHUP, syscall.SIGCONT}},
		{name: "a child that ignores SIGHUP", stubborn: 1, grace: 100 * time.Millisecond, want: []syscall.Signal{syscall.SIGHUP, syscall.SIGCONT, syscall.SIGKILL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			HangupGrace = tt.grace
			g := &fakeGroup{fakeProcess: newFakeProcess(), obedient: 2, stubborn: tt.stubborn}
			server, client := net.Pipe()
			done := make(chan types.ExecExit, 1)
			go func() { done <- Serve(g, NewReader(server), NewWriter(server)) }()
			client.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not end after the client went away")
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			assert.Equal(t, tt.want, g.signals, "signals sent to the group, none to the process alone")
			assert.Zero(t, g.obedient+g.stubborn, "children left")
		})
	}
}
