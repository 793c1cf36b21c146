package container

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
	p := procInfo{state: 'S', flags: 0x400100}
	assert.False(t, p.exiting())
	p.flags |= pfExiting
	assert.True(t, p.exiting())
	assert.True(t, procInfo{state: 'Z'}.exiting())
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

	assert.Equal(t, 2, reapStrays())
	for _, cmd := range []*exec.Cmd{exited, running} {
		_, err := readProcInfo(cmd.Process.Pid)
		assert.ErrorIs(t, err, os.ErrNotExist, "stray %d was reaped", cmd.Process.Pid)
	}
	for _, cmd := range []*exec.Cmd{started, other} {
		p, err := readProcInfo(cmd.Process.Pid)
		if assert.NoError(t, err, "pid %d left alone", cmd.Process.Pid) {
			assert.False(t, p.exited(), "pid %d left running", cmd.Process.Pid)
		}
	}
}
