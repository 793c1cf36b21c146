package webui

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

// maxTerms bounds the terminals one page may hold open.
const maxTerms = 8

// term is a terminal into a plugin: an exec session with a TTY, run by
// execproto.Serve as the exec API runs it, with the page's websocket in
// place of the hijacked connection.
type term struct {
	id   string
	in   *io.PipeWriter // client frames for Serve
	once sync.Once
}

// close hangs the terminal up, as a closed connection would.
func (t *term) close() { t.once.Do(func() { _ = t.in.Close() }) }

type termOutMsg struct {
	Type string `json:"type"` // "term.out"
	ID   string `json:"id"`
	Data string `json:"data"` // base64 of the bytes
}

type termExitMsg struct {
	Type string         `json:"type"` // "term.exit"
	ID   string         `json:"id"`
	Exit types.ExecExit `json:"exit"`
}

// openTerm starts m.Cmd (default: sh, from the toolbox if the plugin has
// none) in plugin m.Plugin with a TTY of m.Cols×m.Rows.
func (c *conn) openTerm(m inMsg) {
	c.mu.Lock()
	_, dup := c.terms[m.ID]
	n := len(c.terms)
	c.mu.Unlock()
	switch {
	case m.ID == "" || dup:
		c.sendError(m.ID, fmt.Errorf("terminal ID %q is empty or in use", m.ID))
		return
	case n >= maxTerms:
		c.sendError(m.ID, fmt.Errorf("at most %d terminals per page", maxTerms))
		return
	}
	cmd := m.Cmd
	if len(cmd) == 0 {
		cmd = []string{"sh"}
	}
	proc, err := c.s.o.Backend.Exec(m.Plugin, types.ExecConfig{
		Cmd: cmd, Tty: true, AttachStdin: true, Height: m.Rows, Width: m.Cols,
		Env: []string{"TERM=xterm-256color"},
	})
	if err != nil {
		var se *execproto.StartError
		if errors.As(err, &se) {
			c.sendMust(termExitMsg{Type: "term.exit", ID: m.ID, Exit: types.ExecExit{ExitCode: se.ExitCode, Error: se.Msg}})
			return
		}
		c.sendMust(termExitMsg{Type: "term.exit", ID: m.ID, Exit: types.ExecExit{ExitCode: -1, Error: err.Error()}})
		return
	}
	inR, inW := io.Pipe()
	t := &term{id: m.ID, in: inW}
	c.mu.Lock()
	c.terms[m.ID] = t
	c.mu.Unlock()
	go func() {
		out := execproto.NewWriter(&termSink{c: c, id: m.ID})
		st := execproto.Serve(proc, execproto.NewReader(inR), out)
		_ = inR.Close()
		c.mu.Lock()
		delete(c.terms, m.ID)
		c.mu.Unlock()
		c.s.o.Log.WithField("plugin", m.Plugin).Debugf("web UI terminal %q ended: %+v", cmd, st)
	}()
}

// termInput passes the page's keys, resizes and hang-ups to a terminal.
func (c *conn) termInput(m inMsg) {
	c.mu.Lock()
	t := c.terms[m.ID]
	c.mu.Unlock()
	if t == nil {
		return // ended meanwhile
	}
	var err error
	switch m.Type {
	case "term.in":
		_, err = t.in.Write(execproto.AppendFrame(nil, execproto.Stdin, []byte(m.Data)))
	case "term.resize":
		b, _ := json.Marshal(types.WindowSize{Height: m.Rows, Width: m.Cols})
		_, err = t.in.Write(execproto.AppendFrame(nil, execproto.Resize, b))
	case "term.close":
		t.close()
	}
	if err != nil {
		t.close()
	}
}

// termSink receives Serve's frames, one whole frame per Write (as
// execproto.Writer writes them), and sends them to the page. Output waits
// for room in the page's queue: a slow page slows its terminal only.
type termSink struct {
	c  *conn
	id string
}

func (s *termSink) Write(p []byte) (int, error) {
	if len(p) < execproto.HeaderSize || int(binary.BigEndian.Uint32(p[4:8])) != len(p)-execproto.HeaderSize {
		return 0, fmt.Errorf("web UI terminal: not one whole frame (%d bytes)", len(p))
	}
	payload := p[execproto.HeaderSize:]
	var ok bool
	switch execproto.Type(p[0]) {
	case execproto.Stdout, execproto.Stderr:
		ok = s.c.sendMust(termOutMsg{Type: "term.out", ID: s.id, Data: base64.StdEncoding.EncodeToString(payload)})
	case execproto.Exit:
		var st types.ExecExit
		_ = json.Unmarshal(payload, &st)
		ok = s.c.sendMust(termExitMsg{Type: "term.exit", ID: s.id, Exit: st})
	default:
		ok = true
	}
	if !ok {
		return 0, io.ErrClosedPipe
	}
	return len(p), nil
}
