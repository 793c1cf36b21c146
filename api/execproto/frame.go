// Package execproto is the wire protocol of an exec session and the
// server side of a session, independent of the transport: the daemon's API
// runs it over a hijacked HTTP connection, and a websocket bridge can run the
// same session by carrying one frame per message.
//
// A frame is an 8-byte header, then the payload:
//
//	byte 0     frame type (see the Type constants)
//	bytes 1-3  zero
//	bytes 4-7  payload length, big-endian uint32
//
// Stdout and stderr frames have the numbers of Docker's stdcopy streams (1
// and 2), so a stdcopy demultiplexer reads the output of a session. The
// client sends Stdin, CloseStdin, Resize and Signal frames; the server sends
// Stdout, Stderr and, last, one Exit frame.
package execproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Type is a frame's type.
type Type byte

// Frame types.
const (
	Stdin      Type = 0 // client → server: bytes for the process's stdin
	Stdout     Type = 1 // server → client: process output (all of it with a TTY)
	Stderr     Type = 2 // server → client: process stderr (without a TTY)
	CloseStdin Type = 4 // client → server: stdin reached EOF; no payload
	Resize     Type = 5 // client → server: JSON WindowSize
	Signal     Type = 6 // client → server: a signal name, e.g. "SIGTERM"
	Exit       Type = 7 // server → client: JSON ExitStatus; the last frame
)

func (t Type) String() string {
	switch t {
	case Stdin:
		return "stdin"
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	case CloseStdin:
		return "close-stdin"
	case Resize:
		return "resize"
	case Signal:
		return "signal"
	case Exit:
		return "exit"
	}
	return fmt.Sprintf("type-%d", byte(t))
}

// HeaderSize is the size of a frame header.
const HeaderSize = 8

// MaxPayload bounds a frame's payload; a peer that announces more is broken.
const MaxPayload = 1 << 20

// ErrTooLarge is returned for a frame whose payload exceeds MaxPayload.
var ErrTooLarge = errors.New("exec frame too large")

// Frame is one message of a session.
type Frame struct {
	Type    Type
	Payload []byte
}

// Writer writes frames to an underlying stream. It is safe for concurrent
// use: each frame is written whole.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a frame writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame writes one frame with a copy of payload.
func (w *Writer) WriteFrame(t Type, payload []byte) error {
	if len(payload) > MaxPayload {
		return ErrTooLarge
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = AppendFrame(w.buf[:0], t, payload)
	_, err := w.w.Write(w.buf)
	return err
}

// WriteJSON writes one frame whose payload is v as JSON.
func (w *Writer) WriteJSON(t Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.WriteFrame(t, b)
}

// AppendFrame appends the encoding of one frame to dst.
func AppendFrame(dst []byte, t Type, payload []byte) []byte {
	var h [HeaderSize]byte
	h[0] = byte(t)
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(append(dst, h[:]...), payload...)
}

// Reader reads frames from an underlying stream. It is not safe for
// concurrent use.
type Reader struct {
	r io.Reader
	h [HeaderSize]byte
}

// NewReader returns a frame reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ReadFrame reads the next frame. It returns io.EOF at a clean end between
// frames and io.ErrUnexpectedEOF inside one. The payload is a new slice.
func (r *Reader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.h[:]); err != nil {
		return Frame{}, err
	}
	if r.h[1] != 0 || r.h[2] != 0 || r.h[3] != 0 {
		return Frame{}, fmt.Errorf("invalid exec frame header % x", r.h[:])
	}
	n := binary.BigEndian.Uint32(r.h[4:])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	f := Frame{Type: Type(r.h[0]), Payload: make([]byte, n)}
	if _, err := io.ReadFull(r.r, f.Payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
}

// StreamWriter is an io.Writer that sends each Write as frames of type t,
// split at MaxPayload.
type StreamWriter struct {
	W *Writer
	T Type
}

// Write implements io.Writer.
func (s StreamWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), MaxPayload)
		if err := s.W.WriteFrame(s.T, p[:c]); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}
