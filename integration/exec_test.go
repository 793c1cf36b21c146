package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// execCmd is the plugdbg CLI against d, not started yet.
func (d *daemon) execCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, plugdbgBin, args...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	return cmd
}

// treeHash describes every file under dir (path, type, mode, owner, size,
// content or link target) and hashes the description.
func treeHash(t *testing.T, dir string) (string, []string) {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v %d:%d %d", rel, info.Mode(), st.Uid, st.Gid, info.Size())
		switch {
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:]), lines
}

// TestExec runs processes inside a real volume plugin whose rootfs holds
// nothing but its binary, so every shell command runs from the toolbox,
// and checks that the plugin keeps serving and its rootfs stays unchanged.
func TestExec(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")
	rootfs := filepath.Join(d.storeDir(p.ID), "rootfs")
	before, beforeLines := treeHash(t, rootfs)
	createVolume(t, p.State.Socket, "v1")

	t.Run("stdout, stderr and exit code", func(t *testing.T) {
		out, errOut, code := d.cli(t, "exec", "vol", "sh", "-c", "echo out; echo err >&2; exit 3")
		assert.Equal(t, "out\n", out)
		assert.Equal(t, "err\n", errOut, "stderr is kept apart, and a plain exit status prints nothing more")
		assert.Equal(t, 3, code)
	})

	t.Run("environment, user and directory", func(t *testing.T) {
		out, errOut, code := d.cli(t, "exec", "-e", "FOO=bar", "-e", "DEBUG=2", "vol", "env")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "FOO=bar\n")
		assert.Contains(t, out, "DEBUG=2\n", "-e overrides the plugin's own value")
		assert.NotContains(t, out, "DEBUG=0")
		assert.Contains(t, out, "PATH=")

		out, errOut, code = d.cli(t, "exec", "-u", "1000:1001", "-w", "/data", "vol", "sh", "-c", "id -u; id -g; pwd")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "1000\n1001\n/data\n", out)

		_, errOut, code = d.cli(t, "exec", "-u", "nobody", "vol", "id")
		assert.Equal(t, 126, code)
		assert.Contains(t, errOut, `user "nobody"`, "the plugin has no /etc/passwd")
	})

	t.Run("sees the plugin's processes, filesystem and network", func(t *testing.T) {
		out, errOut, code := d.cli(t, "exec", "vol", "sh", "-c", "tr '\\0' '\\n' </proc/1/cmdline; ls /; netstat -xl")
		require.Equal(t, 0, code, errOut)
		assert.True(t, strings.HasPrefix(out, "/pdvol\n"), "PID 1 is the plugin: %q", out)
		assert.Contains(t, out, "pdvol\n", "the rootfs")
		assert.Contains(t, out, "/run/docker/plugins/pdvol.sock", "the plugin's listening socket")
		out, _, code = d.cli(t, "exec", "vol", "ls", "/data")
		require.Equal(t, 0, code)
		assert.Equal(t, "v1\n", out, "the propagated mount with the volume the plugin made")
	})

	t.Run("missing command gives 127", func(t *testing.T) {
		out, errOut, code := d.cli(t, "exec", "vol", "nosuchcmd", "arg")
		assert.Equal(t, 127, code)
		assert.Empty(t, out)
		assert.Contains(t, errOut, `"nosuchcmd": executable file not found in the plugin's rootfs`)
		assert.Contains(t, errOut, "nor in the toolbox")

		_, errOut, code = d.cli(t, "exec", "vol", "/bin/nosuchcmd")
		assert.Equal(t, 127, code)
		assert.Contains(t, errOut, "/bin/nosuchcmd")

		_, _, code = d.cli(t, "exec", "vol", "sh", "-c", "nosuchcmd")
		assert.Equal(t, 127, code, "the shell's own 127 comes through too")
	})

	t.Run("stdin is streamed and closed at EOF", func(t *testing.T) {
		ctx := testCtx(t)
		input := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
		cmd := d.execCmd(ctx, "exec", "-i", "vol", "sh", "-c", "sha256sum; echo done >&2")
		cmd.Stdin = bytes.NewReader(input)
		out, errOut, code := runCommand(t, cmd)
		require.Equal(t, 0, code, errOut)
		sum := sha256.Sum256(input)
		assert.Equal(t, hex.EncodeToString(sum[:])+"  -\n", out)
		assert.Equal(t, "done\n", errOut)

		// Without -i the process's stdin is empty.
		cmd = d.execCmd(ctx, "exec", "vol", "wc", "-c")
		cmd.Stdin = bytes.NewReader(input)
		out, _, code = runCommand(t, cmd)
		require.Equal(t, 0, code)
		assert.Equal(t, "0", strings.TrimSpace(out))
	})

	t.Run("signals are forwarded", func(t *testing.T) {
		ctx := testCtx(t)
		cmd := d.execCmd(ctx, "exec", "vol", "sh", "-c",
			`trap 'echo got TERM; exit 7' TERM; trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done`)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		require.NoError(t, cmd.Start())
		lines := bufio.NewScanner(stdout)
		require.True(t, lines.Scan())
		require.Equal(t, "ready", lines.Text())
		require.NoError(t, cmd.Process.Signal(syscall.SIGUSR1))
		require.True(t, lines.Scan())
		assert.Equal(t, "got USR1", lines.Text())
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.True(t, lines.Scan())
		assert.Equal(t, "got TERM", lines.Text())
		err = cmd.Wait()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stderr: %s", errOut.String())
		assert.Equal(t, 7, ee.ExitCode())

		// A process killed by the forwarded signal: 128+15, as a shell says.
		cmd = d.execCmd(ctx, "exec", "vol", "sh", "-c", "echo ready; exec sleep 30")
		stdout, err = cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines = bufio.NewScanner(stdout)
		require.True(t, lines.Scan())
		start := time.Now()
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		err = cmd.Wait()
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 128+15, ee.ExitCode())
		// Far below the 30 s the sleep lasts if the signal never reaches it.
		assert.Less(t, time.Since(start), 20*time.Second)
	})

	t.Run("with a pty", func(t *testing.T) {
		testExecTTY(t, d)
	})

	t.Run("toolbox is read-only and confined", func(t *testing.T) {
		out, errOut, code := d.cli(t, "exec", "--toolbox", "vol", "sh", "-c",
			`touch /proc/self/fd/3/x; echo "touch=$?"; ls /proc/self/fd/3/../.. | grep -c . ; ls /proc/self/fd/3/../../busybox`)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, errOut, "Read-only file system")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, out)
		assert.Equal(t, "touch=1", lines[0])
		n, err := strconv.Atoi(lines[1])
		require.NoError(t, err)
		assert.Greater(t, n, 100, "'..' of the toolbox is the toolbox (busybox and its applets), not the host")
		assert.Equal(t, "/proc/self/fd/3/../../busybox", lines[2])
	})

	t.Run("plugin keeps serving during and after exec", func(t *testing.T) {
		ctx := testCtx(t)
		cmd := d.execCmd(ctx, "exec", "vol", "sh", "-c", "echo ready; sleep 2; echo end")
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := bufio.NewScanner(stdout)
		require.True(t, lines.Scan())
		assert.Equal(t, []string{"v1"}, volumeNames(t, p.State.Socket), "VolumeDriver.List during the exec")
		top, errOut, code := d.cli(t, "top", "vol")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, top, "sleep 2", "top shows the exec'd processes")
		require.True(t, lines.Scan())
		assert.Equal(t, "end", lines.Text())
		require.NoError(t, cmd.Wait())
		assert.Equal(t, []string{"v1"}, volumeNames(t, p.State.Socket), "VolumeDriver.List after the exec")
		now := d.inspect(t, "vol")
		assert.Equal(t, p.State.Pid, now.State.Pid, "the plugin was not restarted")
		assert.Zero(t, now.State.RestartCount)
	})

	t.Run("rootfs unchanged", func(t *testing.T) {
		after, afterLines := treeHash(t, rootfs)
		assert.Equal(t, beforeLines, afterLines)
		assert.Equal(t, before, after)
	})

	t.Run("top and stats", func(t *testing.T) {
		out, errOut, code := d.cli(t, "top", "vol")
		require.Equal(t, 0, code, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		assert.Equal(t, []string{"PID", "USER", "TIME", "CMD"}, strings.Fields(lines[0]))
		assert.Equal(t, []string{strconv.Itoa(p.State.Pid), "0", "00:00:00", "/pdvol"}, strings.Fields(lines[1]))

		out, errOut, code = d.cli(t, "stats", "--no-stream", "vol")
		require.Equal(t, 0, code, errOut)
		lines = strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		assert.Regexp(t, `^ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+PIDS\s+CALLS/S\s+P99$`, lines[0])
		assert.Regexp(t, `^`+p.ID[:12]+`\s+vol:latest\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B / [\d.]+[KMG]iB\s+\d+\.\d\d%\s+[1-9]\d*\s+--\s+--$`, lines[1])
	})

	t.Run("disabled and unknown plugins", func(t *testing.T) {
		_, errOut, code := d.cli(t, "exec", "nosuch", "sh")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, `plugin "nosuch" not found`)

		require.NoError(t, d.client.Disable(testCtx(t), "vol", false))
		_, errOut, code = d.cli(t, "exec", "vol", "sh")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "cannot exec in plugin vol:latest: it is disabled (enable it first)")
		_, errOut, code = d.cli(t, "top", "vol")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "disabled")
		_, errOut, code = d.cli(t, "stats", "--no-stream", "vol")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "disabled")
	})
}

// ptyOutput collects what the CLI writes to its terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *ptyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output, after offset, contains want, and
// returns the offset after it.
func (o *ptyOutput) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		s := o.String()
		if i := strings.Index(s[from:], want); i >= 0 {
			return from + i + len(want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.FailNow(t, "terminal output did not show "+strconv.Quote(want), "output:\n%q", o.String()[from:])
	return 0
}

// testExecTTY drives `plugdbg exec -it vol sh` through a real pty, as a
// user at a terminal would.
func testExecTTY(t *testing.T, d *daemon) {
	master, slavePath, err := console.NewPty()
	require.NoError(t, err)
	defer master.Close()
	require.NoError(t, master.Resize(console.WinSize{Height: 30, Width: 100}))
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)

	ctx := testCtx(t)
	cmd := d.execCmd(ctx, "exec", "-it", "vol", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The pty is the CLI's controlling terminal, so that a resize sends it
	// SIGWINCH.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	slave.Close()
	out := &ptyOutput{}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(out, master); close(copied) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()

	send := func(s string) {
		_, err := master.Write([]byte(s))
		require.NoError(t, err)
	}
	// Markers are printed by printf from pieces, so that the echo of the
	// typed command line never matches them.
	// The prompt shows once the session is up and the terminal is raw.
	pos := out.waitFor(t, 0, "/ # ")
	send("tty; stty size; printf 'M%s\\n' 1\n")
	pos = out.waitFor(t, pos, "M1")
	seen := out.String()
	assert.Regexp(t, `/dev/pts/\d+\r\n30 100\r\n`, seen, "a pty in the container, with the size of the user's terminal")

	require.NoError(t, master.Resize(console.WinSize{Height: 40, Width: 132}))
	// SIGWINCH reaches the CLI asynchronously: poll until the new size shows.
	deadline := time.Now().Add(waitTimeout)
	for n := 2; ; n++ {
		send(fmt.Sprintf("stty size; printf 'M%%s\\n' %d\n", n))
		next := out.waitFor(t, pos, fmt.Sprintf("M%d", n))
		got := out.String()[pos:next]
		pos = next
		if strings.Contains(got, "40 132\r\n") {
			break
		}
		require.True(t, time.Now().Before(deadline), "stty size never showed 40 132 after the resize: %q", got)
		time.Sleep(50 * time.Millisecond)
	}

	// Ctrl-C is a byte through the terminal: it interrupts the foreground
	// command in the container, not plugdbg. The marker comes from the
	// foreground job itself, which the shell has made the terminal's
	// foreground process group before it runs anything, so Ctrl-C after it
	// is a signal to that job. (A marker printed by the shell comes too
	// early: Ctrl-C could then reach the line editor as a byte, or the
	// shell before the job is in the foreground, and sleep would run its
	// 30 s.)
	send("sh -c \"printf 'M%s\\n' sleeping; exec sleep 30\"\n")
	pos = out.waitFor(t, pos, "Msleeping")
	start := time.Now()
	send("\x03")
	send("printf 'M%s\\n' int\n")
	pos = out.waitFor(t, pos, "Mint")
	// Far below the 30 s of a sleep Ctrl-C did not interrupt.
	assert.Less(t, time.Since(start), 20*time.Second)

	// The tail of the output is not lost when the shell exits.
	send("seq 1 3000; printf 'T%s\\n' AIL; exit 5\n")
	select {
	case err := <-exited:
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 5, ee.ExitCode())
	case <-time.After(waitTimeout):
		require.FailNow(t, "plugdbg exec -it did not exit", out.String())
	}
	<-copied // EIO once the CLI, the last user of the pty's slave, has gone
	rest := out.String()[pos:]
	assert.Contains(t, rest, "2999\r\n3000\r\nTAIL\r\n")
}

// TestExecCtrlD ends a TTY shell with Ctrl-D at its prompt.
func TestExecCtrlD(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	d.enable(t, "vol")
	master, slavePath, err := console.NewPty()
	require.NoError(t, err)
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	cmd := d.execCmd(testCtx(t), "exec", "-it", "vol", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	slave.Close()
	out := &ptyOutput{}
	go func() { _, _ = io.Copy(out, master) }()
	out.waitFor(t, 0, "/ # ")
	_, err = master.Write([]byte("printf 'M%s\\n' up\n"))
	require.NoError(t, err)
	// The prompt after the output, not the output: busybox's line editor
	// puts the terminal in raw mode and only then prints its prompt. A ^D
	// that reaches the terminal while it is still canonical is queued as an
	// end of line, which the raw read that follows returns as a NUL byte,
	// and the shell would wait on.
	at := out.waitFor(t, 0, "Mup")
	out.waitFor(t, at, "/ # ")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	_, err = master.Write([]byte{4})
	require.NoError(t, err)
	select {
	case err := <-exited:
		assert.NoError(t, err, "Ctrl-D ends the shell with status 0")
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		require.FailNow(t, "Ctrl-D did not end the shell", out.String())
	}
}

// TestExecRootfsFirst uses a plugin whose rootfs has a busybox of its own
// and an /etc/passwd: commands found in the rootfs run from there, the
// toolbox only with --toolbox, -u and top use the plugin's user names, and
// exec keeps working after a daemon restart.
func TestExecRootfsFirst(t *testing.T) {
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("no /bin/busybox (scripts/deps.sh installs busybox-static)")
	}
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(pluginDir("volume"))))
	rootfs := filepath.Join(dir, "rootfs")
	for _, sub := range []string{"bin", "etc"} {
		require.NoError(t, os.MkdirAll(filepath.Join(rootfs, sub), 0o755))
	}
	data, err := os.ReadFile(busybox)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755))
	for _, applet := range []string{"sh", "id", "readlink"} {
		require.NoError(t, os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "etc", "passwd"),
		[]byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345::/home/alice:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "etc", "group"),
		[]byte("root:x:0:\nstaff:x:2345:\nops:x:3456:alice\n"), 0o644))

	d := startDaemon(t)
	require.NoError(t, d.client.CreateFromDir(testCtx(t), "bb", dir))
	p := d.enable(t, "bb")

	out, errOut, code := d.cli(t, "exec", "bb", "sh", "-c", "readlink /proc/$$/exe")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "/bin/busybox\n", out, "sh is the plugin's own")

	out, errOut, code = d.cli(t, "exec", "--toolbox", "bb", "sh", "-c", "readlink /proc/$$/exe; echo $PATH")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "/busybox\n/proc/self/fd/3:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", out,
		"--toolbox runs the toolbox's sh (named from the root of its detached mount, not the host's path), toolbox first in PATH")

	out, errOut, code = d.cli(t, "exec", "bb", "ps")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "/pdvol", "ps is not in the rootfs: the toolbox's")

	out, errOut, code = d.cli(t, "exec", "-u", "alice", "bb", "sh", "-c", "id -u; id -g; id -G; echo $HOME")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "1234\n2345\n2345 3456\n/home/alice\n", out, "user, primary and supplementary groups and HOME from the plugin's files")
	out, errOut, code = d.cli(t, "exec", "-u", "alice:ops", "bb", "id", "-g")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "3456\n", out)

	// top names users from the plugin's /etc/passwd.
	ctx := testCtx(t)
	cmd := d.execCmd(ctx, "exec", "-u", "alice", "bb", "sh", "-c", "echo ready; exec sleep 5")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	// "ready" comes just before the shell execs sleep.
	sleeping := regexp.MustCompile(`(?m)^\d+\s+alice\s+00:00:00\s+sleep 5$`)
	eventually(t, func() bool {
		out, _, _ = d.cli(t, "top", "bb")
		return sleeping.MatchString(out)
	}, waitTimeout, "top never showed alice's sleep")
	assert.Regexp(t, `(?m)^`+strconv.Itoa(p.State.Pid)+`\s+root\s+\S+\s+/pdvol$`, out)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()

	// stats streams until interrupted, which is a clean end.
	cmd = d.execCmd(ctx, "stats", "bb")
	stdout, err = cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines = bufio.NewScanner(stdout)
	headers := 0
	for headers < 2 && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "ID ") {
			headers++
		}
	}
	require.Equal(t, 2, headers, "two samples")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	assert.NoError(t, cmd.Wait(), "stats ends cleanly on Ctrl-C")

	// The daemon loads the container afresh for each exec: a restarted
	// daemon execs into the plugin it reattached to.
	d.restart()
	out, errOut, code = d.cli(t, "exec", "bb", "id", "-u")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "0\n", out)
	assert.Equal(t, p.State.Pid, d.inspect(t, "bb").State.Pid)
}
