package setns

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// strayEnv makes the test binary a stand-in for one of libcontainer's exec
// helpers: "NAME,MODE" names it NAME, says so on stdout, then exits (MODE
// exit) or waits for stdin to close (block).
const strayEnv = "PLUGDBG_TEST_STRAY"

func TestMain(m *testing.M) {
	if v := os.Getenv(strayEnv); v != "" {
		name, mode, _ := strings.Cut(v, ",")
		p, err := unix.BytePtrFromString(name)
		if err == nil {
			err = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "name the stray:", err)
			os.Exit(2)
		}
		fmt.Println("named")
		if mode == "block" {
			_, _ = io.Copy(io.Discard, os.Stdin)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestExiting(t *testing.T) {
	p := ProcInfo{State: 'S', Flags: 0x400100}
	assert.False(t, p.Exiting())
	p.Flags |= pfExiting
	assert.True(t, p.Exiting())
	assert.True(t, ProcInfo{State: 'Z'}.Exiting())
}

// TestReapStrays leaves children named as libcontainer's exec helpers, one
// exited and one running, beside a started exec process that still has the
// helper's name and an unrelated child: only the two strays are reaped.
func TestReapStrays(t *testing.T) {
	start := func(name, mode string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = append(os.Environ(), strayEnv+"="+name+","+mode)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			stdin.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "named\n", line)
		if mode == "exit" {
			_, _ = io.Copy(io.Discard, stdout) // until it has exited
		}
		return cmd
	}
	exited := start("runc:[2:INIT]", "exit")
	running := start("runc:[1:CHILD]", "block")
	started := start("runc:[2:INIT]", "block")
	other := start("not-a-helper", "block")
	liveMu.Lock()
	live[started.Process.Pid] = true
	liveMu.Unlock()
	t.Cleanup(func() {
		liveMu.Lock()
		delete(live, started.Process.Pid)
		liveMu.Unlock()
	})

	assert.Equal(t, 2, ReapStrays())
	for _, cmd := range []*exec.Cmd{exited, running} {
		_, err := ReadProcInfo(cmd.Process.Pid)
		assert.ErrorIs(t, err, os.ErrNotExist, "stray %d was reaped", cmd.Process.Pid)
	}
	for _, cmd := range []*exec.Cmd{started, other} {
		p, err := ReadProcInfo(cmd.Process.Pid)
		if assert.NoError(t, err, "pid %d left alone", cmd.Process.Pid) {
			assert.False(t, p.Exited(), "pid %d left running", cmd.Process.Pid)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (a (b) c) S 4200 4242 4242 34816 4242 4194560 113 0 0 0 0 0 0 0 20 0 1 0 98765 2527232 181 18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	p, err := ParseProcStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, ProcInfo{Comm: "a (b) c", State: 'S', Ppid: 4200, Pgrp: 4242, Session: 4242, Flags: 4194560, Start: 98765}, p)

	for _, bad := range []string{"", "1 (x S 1 1 1", "1 (x) S 1 1", "1 (x) S one 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"} {
		_, err := ParseProcStat([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}

	self, err := ReadProcInfo(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getppid(), self.Ppid)
	assert.NotZero(t, self.Start)
}
