package monitor

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/logs"
)

// TestSpoolToConn: lines a monitor appends reach an attached daemon's Next
// whole and in order, across reads of every size, with a line too long
// for one piece, a line that is not UTF-8, lines the spool dropped before
// the daemon attached (a Skipped marker), and the exit last.
func TestSpoolToConn(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, socketFile))
	require.NoError(t, err)
	defer ln.Close()
	m := &monitor{ln: ln}
	m.cond = sync.NewCond(&m.mu)

	// Lines before the attach, and more than the spool keeps.
	sp := logs.NewSplitter(logs.Stdout, logs.MaxPiece)
	feed := func(data string, flush flushMode) { m.append(sp, logs.Stdout, 7, []byte(data), flush) }
	long := strings.Repeat("y", logs.MaxPiece+10)
	feed("first\nsecond\n", none)
	dropped := m.lastSeq
	m.mu.Lock()
	for len(m.unacked) > 0 {
		m.dropOldest() // as if past maxUnacked
	}
	m.mu.Unlock()
	feed("a\xffb\n"+long+"\npart", none)
	feed("ial\n", none)
	feed("no newline", final)
	want := []logs.Entry{
		{Seq: 3, Time: 7, Stream: logs.Stdout, Line: "a\xffb"},
		{Seq: 4, Time: 7, Stream: logs.Stdout, Line: long[:logs.MaxPiece], Partial: true},
		{Seq: 5, Time: 7, Stream: logs.Stdout, Line: long[logs.MaxPiece:]},
		{Seq: 6, Time: 7, Stream: logs.Stdout, Line: "partial"},
		{Seq: 7, Time: 7, Stream: logs.Stdout, Line: "no newline"},
	}

	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		br := bufio.NewReader(conn)
		if _, err := br.ReadBytes('\n'); err != nil {
			return
		}
		_ = json.NewEncoder(conn).Encode(Message{Hello: &Hello{Pid: 1}})
		s := &session{conn: conn, done: make(chan struct{})}
		m.mu.Lock()
		m.session = s
		m.exit = &types.PluginExit{ExitCode: 3}
		m.mu.Unlock()
		m.write(s)
	}()
	c, err := Attach(dir)
	require.NoError(t, err)
	defer c.Close()
	var got []logs.Entry
	var skipped, after uint64
	for { // Next fails once the monitor's side is gone
		msg, err := c.Next()
		require.NoError(t, err)
		if msg.Skipped > 0 {
			skipped, after = msg.Skipped, msg.SkippedAfter
		}
		for _, l := range msg.Lines {
			assert.Equal(t, string(l.AppendJSON(nil)), l.Raw, "Raw is the record the monitor wrote")
			l.Raw = ""
			got = append(got, l)
		}
		if msg.Exit != nil {
			assert.Equal(t, 3, msg.Exit.ExitCode)
			break
		}
	}
	assert.Equal(t, dropped, skipped, "the dropped lines are reported as skipped")
	assert.Zero(t, after)
	assert.Equal(t, want, got)
}
