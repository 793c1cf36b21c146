package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/setns"
)

// listen listens on dir's monitor socket, as a monitor would.
func listen(t *testing.T, dir string) *net.UnixListener {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, socketFile), Net: "unix"})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// TestReadFirstTakesTheFiles sends a request with two files in one message,
// as Exec does: the monitor's first read has the request and both files.
func TestReadFirstTakesTheFiles(t *testing.T) {
	ln := listen(t, t.TempDir())
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	c, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	require.NoError(t, err)
	defer c.Close()
	req := []byte(`{"op":"exec"}` + "\n")
	_, _, err = c.WriteMsgUnix(req, unix.UnixRights(int(w1.Fd()), int(w2.Fd())), nil)
	require.NoError(t, err)

	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	first, files, err := readFirst(s)
	require.NoError(t, err)
	defer closeFiles(files)
	assert.Equal(t, req, first)
	require.Len(t, files, 2)
	for i, pair := range [][2]*os.File{{files[0], r1}, {files[1], r2}} {
		_, err := pair[0].Write([]byte{byte('a' + i)})
		require.NoError(t, err)
		b := make([]byte, 1)
		_, err = pair[1].Read(b)
		require.NoError(t, err)
		assert.Equal(t, byte('a'+i), b[0], "file %d is the pipe sent in its place", i)
	}
}

func TestReadFirstRefusesTooManyFiles(t *testing.T) {
	ln := listen(t, t.TempDir())
	_, w := pipe(t)
	c, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	require.NoError(t, err)
	defer c.Close()
	fds := make([]int, maxRequestFiles+1)
	for i := range fds {
		fds[i] = int(w.Fd())
	}
	_, _, err = c.WriteMsgUnix([]byte(`{"op":"exec"}`+"\n"), unix.UnixRights(fds...), nil)
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	_, files, err := readFirst(s)
	assert.ErrorContains(t, err, "more than 8 files")
	assert.Empty(t, files)
}

// TestExecRequestChecks: a monitor refuses an exec without a command, or
// whose files are not those its spec announces, before it starts anything.
func TestExecRequestChecks(t *testing.T) {
	_, w := pipe(t)
	for _, tt := range []struct {
		name  string
		spec  *ExecSpec
		files int
		want  string
	}{
		{"no spec", nil, 0, "no command"},
		{"no command", &ExecSpec{}, 2, "no command"},
		{"too few files", &ExecSpec{Args: []string{"true"}, Stdin: true}, 2, "2 files came with the request, 3 were expected"},
		{"too many files", &ExecSpec{Args: []string{"true"}, Terminal: true}, 2, "2 files came with the request, 1 were expected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var files []*os.File
			for range tt.files {
				f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(w.Fd())), os.O_WRONLY, 0)
				require.NoError(t, err)
				files = append(files, f)
			}
			server, client := net.Pipe()
			defer client.Close()
			m := &monitor{}
			served := make(chan struct{})
			go func() {
				defer close(served)
				defer server.Close()
				m.exec(server, strings.NewReader(""), tt.spec, files)
			}()
			var rep reply
			require.NoError(t, readReply(bufio.NewReader(client), &rep))
			<-served
			assert.Contains(t, rep.Error, tt.want)
			assert.False(t, rep.NotRunning)
			assert.Nil(t, rep.Exec)
			for _, f := range files {
				assert.ErrorIs(t, f.Close(), os.ErrClosed, "the monitor closed the request's files")
			}
		})
	}
}

// fakeMonitor serves one connection on dir's socket with serve, which gets
// the request and its files.
func fakeMonitor(t *testing.T, dir string, serve func(c net.Conn, req request, files []*os.File)) {
	t.Helper()
	ln := listen(t, dir)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		first, files, err := readFirst(c)
		if err != nil {
			return
		}
		defer closeFiles(files)
		var req request
		if json.NewDecoder(io.MultiReader(strings.NewReader(string(first)), c)).Decode(&req) != nil {
			return
		}
		serve(c, req, files)
	}()
}

func TestExecClient(t *testing.T) {
	_, out := pipe(t)
	_, errw := pipe(t)
	proc := func() *libcontainer.Process {
		return &libcontainer.Process{Args: []string{"true"}, Cwd: "/", Stdout: out, Stderr: errw}
	}

	t.Run("earlier monitor", func(t *testing.T) {
		dir := t.TempDir()
		fakeMonitor(t, dir, func(net.Conn, request, []*os.File) {}) // closes without a reply
		_, err := Exec(dir, proc())
		assert.ErrorIs(t, err, ErrEarlierMonitor)
	})
	t.Run("no monitor", func(t *testing.T) {
		_, err := Exec(t.TempDir(), proc())
		assert.ErrorIs(t, err, ErrNoMonitor)
	})
	t.Run("not running", func(t *testing.T) {
		dir := t.TempDir()
		fakeMonitor(t, dir, func(c net.Conn, _ request, _ []*os.File) {
			_ = writeReply(c, reply{Error: errInitExited.Error(), NotRunning: true})
		})
		_, err := Exec(dir, proc())
		assert.ErrorIs(t, err, ErrExecNotRunning)
	})
	t.Run("cannot start", func(t *testing.T) {
		dir := t.TempDir()
		fakeMonitor(t, dir, func(c net.Conn, _ request, _ []*os.File) {
			_ = writeReply(c, reply{Error: "exec: no such file or directory"})
		})
		_, err := Exec(dir, proc())
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrExecNotRunning)
		assert.NotErrorIs(t, err, ErrEarlierMonitor)
		assert.Equal(t, "exec: no such file or directory", err.Error())
	})
	t.Run("started and exited", func(t *testing.T) {
		dir := t.TempDir()
		got := make(chan request, 1)
		self, err := setns.ReadProcInfo(os.Getpid())
		require.NoError(t, err)
		fakeMonitor(t, dir, func(c net.Conn, req request, files []*os.File) {
			got <- req
			if len(files) != 3 {
				_ = writeReply(c, reply{Error: "files"})
				return
			}
			_ = writeReply(c, reply{Exec: &execStarted{Pid: os.Getpid(), Start: self.Start}})
			_ = writeReply(c, reply{ExecExit: &types.ExecExit{ExitCode: 3}})
		})
		in, _ := pipe(t)
		p := proc()
		p.Stdin, p.Env, p.UID, p.GID, p.AdditionalGroups = in, []string{"A=b"}, 7, 8, []int{9}
		x, err := Exec(dir, p)
		require.NoError(t, err)
		defer x.Close()
		req := <-got
		assert.Equal(t, "exec", req.Op)
		assert.Equal(t, &ExecSpec{Args: []string{"true"}, Env: []string{"A=b"}, Cwd: "/", UID: 7, GID: 8, Groups: []int{9}, Stdin: true}, req.Exec)
		assert.Equal(t, os.Getpid(), x.Pid())
		assert.Equal(t, types.ExecExit{ExitCode: 3}, x.Wait())
	})
	t.Run("a request longer than one message", func(t *testing.T) {
		dir := t.TempDir()
		got := make(chan request, 1)
		fakeMonitor(t, dir, func(c net.Conn, req request, files []*os.File) {
			got <- req
			_ = writeReply(c, reply{Error: fmt.Sprintf("%d files", len(files))})
		})
		p := proc()
		big := "BIG=" + strings.Repeat("x", 1<<20) // past the socket's buffer
		p.Env = []string{big}
		_, err := Exec(dir, p)
		select {
		case req := <-got:
			require.NotNil(t, req.Exec)
			assert.Equal(t, []string{big}, req.Exec.Env)
		default:
			require.FailNow(t, "the monitor never got the whole request", "Exec: %v", err)
		}
		assert.EqualError(t, err, "2 files", "the files came with the request's start")
	})
	t.Run("monitor gone while it runs", func(t *testing.T) {
		dir := t.TempDir()
		fakeMonitor(t, dir, func(c net.Conn, _ request, _ []*os.File) {
			_ = writeReply(c, reply{Exec: &execStarted{Pid: os.Getpid(), Start: 1}})
		})
		x, err := Exec(dir, proc())
		require.NoError(t, err)
		defer x.Close()
		exit := x.Wait()
		assert.Equal(t, 1, exit.ExitCode)
		assert.Contains(t, exit.Error, "monitor went away")
		assert.ErrorIs(t, x.Signal(0), os.ErrProcessDone, "a PID whose start time differs is not signalled")
	})
}

func TestExecSpec(t *testing.T) {
	_, a := pipe(t)
	_, b := pipe(t)
	_, c := pipe(t)
	spec, files, err := execSpec(&libcontainer.Process{Args: []string{"sh"}, ConsoleSocket: a, ConsoleHeight: 40, ConsoleWidth: 100, ExtraFiles: []*os.File{b}})
	require.NoError(t, err)
	assert.Equal(t, &ExecSpec{Args: []string{"sh"}, Terminal: true, Height: 40, Width: 100, Extra: 1}, spec)
	assert.Equal(t, []*os.File{a, b}, files, "the console socket, then the extra files")
	assert.Equal(t, len(files), spec.files())

	spec, files, err = execSpec(&libcontainer.Process{Args: []string{"cat"}, Stdin: a, Stdout: b, Stderr: c})
	require.NoError(t, err)
	assert.Equal(t, []*os.File{a, b, c}, files)
	assert.Equal(t, len(files), spec.files())

	_, _, err = execSpec(&libcontainer.Process{Args: []string{"cat"}, Stdout: io.Discard, Stderr: c})
	assert.ErrorContains(t, err, "stdout is not a file")
}
