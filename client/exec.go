package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// ExecSession is an exec stream to the daemon (see package execproto). Its
// methods may be called concurrently.
type ExecSession struct {
	conn net.Conn
	r    *execproto.Reader
	w    *execproto.Writer
}

// Exec starts cfg.Cmd in running plugin ref and returns the upgraded
// session. An unknown or disabled plugin is an *Error from the daemon.
func (c *Client) Exec(ctx context.Context, ref string, cfg types.ExecConfig) (*ExecSession, error) {
	body, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := c.Dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugdbg/plugins/"+ref+"/exec", bytes.NewReader(body))
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "plugdbg-exec")
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, c.requestError(ctx, http.MethodPost, req.URL.Path, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, c.requestError(ctx, http.MethodPost, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return nil, &Error{Status: resp.StatusCode, Message: e.Message}
	}
	return &ExecSession{conn: conn, r: execproto.NewReader(br), w: execproto.NewWriter(conn)}, nil
}

// Resize sets the process's terminal size.
func (s *ExecSession) Resize(height, width uint16) error {
	return s.w.WriteJSON(execproto.Resize, types.WindowSize{Height: height, Width: width})
}

// Signal sends a signal, by name ("SIGTERM"), to the process.
func (s *ExecSession) Signal(name string) error {
	return s.w.WriteFrame(execproto.Signal, []byte(name))
}

// Close ends the session; a process still running is hung up.
func (s *ExecSession) Close() error { return s.conn.Close() }

// Stream copies stdin (if not nil) to the process, closing its stdin at
// EOF, and the process's output to stdout and stderr (stdout if nil) until
// the process has exited and its output is drained. It returns the exit
// status and closes the session.
func (s *ExecSession) Stream(stdin io.Reader, stdout, stderr io.Writer) (types.ExecExit, error) {
	defer s.Close()
	if stderr == nil {
		stderr = stdout
	}
	if stdin != nil {
		go func() {
			_, err := io.Copy(execproto.StreamWriter{W: s.w, T: execproto.Stdin}, stdin)
			if err == nil {
				_ = s.w.WriteFrame(execproto.CloseStdin, nil)
			}
		}()
	}
	for {
		f, err := s.r.ReadFrame()
		if err != nil {
			return types.ExecExit{}, fmt.Errorf("exec session ended without an exit status: %w", err)
		}
		switch f.Type {
		case execproto.Stdout:
			_, err = stdout.Write(f.Payload)
		case execproto.Stderr:
			_, err = stderr.Write(f.Payload)
		case execproto.Exit:
			var st types.ExecExit
			if err := json.Unmarshal(f.Payload, &st); err != nil {
				return st, fmt.Errorf("decode exit status: %w", err)
			}
			return st, nil
		}
		if err != nil && !errors.Is(err, io.ErrShortWrite) {
			// Our output is gone (a closed pipe): hang the process up.
			return types.ExecExit{}, fmt.Errorf("write exec output: %w", err)
		}
	}
}
