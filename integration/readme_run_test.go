//go:build !race

// The README's run command builds plugdbg itself, without -race: one run,
// in the plain integration pass, tests it.

package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/webui"
)

// The roots and socket `make run` uses: plugdbgd's defaults.
const (
	defaultDataRoot = "/var/lib/plugdbg"
	defaultExecRoot = "/run/plugdbg"
	defaultSock     = "/run/plugdbg/plugdbg.sock"
	defaultUIAddr   = "127.0.0.1:7777"
)

// readmeRunTimeout bounds the README's command up to its banner: a fresh
// user's build of plugdbgd, plugdbg, the test plugins and the web UI with
// empty Go and npm caches, then five plugins enabled.
const readmeRunTimeout = 20 * time.Minute

// TestReadmeSudoMakeRun: the README's run command, taken from its text, as
// a new user with sudo rights (NOPASSWD, Debian's secure_path, which drops
// /usr/local/go/bin) in a fresh clone of their own. It must build, start
// the daemon and print one banner whose web UI URL loads; Ctrl-C (SIGINT to
// the process group, as a terminal sends it) stops the daemon, which takes
// its socket and token file with it. The clone is of the commit checked
// out, so the test sees committed changes only.
//
// `make run` uses the default roots and socket, so the test runs only if
// nothing is there (the suite's other daemons each have roots of their
// own, and its tests run one at a time), and removes them afterwards with
// the plugins, the user and everything it made.
func TestReadmeSudoMakeRun(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed (scripts/deps.sh test installs Debian's)")
	}
	for _, p := range []string{defaultDataRoot, defaultExecRoot} {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists: `make run` would take over the plugins of a daemon on the default roots", p)
		}
	}
	// The web UI's default address, which the README's URL names.
	if ln, err := net.Listen("tcp", defaultUIAddr); err != nil {
		t.Skipf("%s is in use (%v): the daemon of `make run` could not serve its web UI there", defaultUIAddr, err)
	} else {
		ln.Close()
	}
	command := readmeRunCommand(t)
	t.Logf("the README's run command: %s", command)
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	repo, err := filepath.Abs("..")
	require.NoError(t, err)

	base, err := os.MkdirTemp("/tmp", "pdrun")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(base, 0o755)) // the user reaches their home below it
	t.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	user := newSudoUser(t, filepath.Join(base, "home"))

	// A clone of the checked-out commit, the user's own.
	clone := filepath.Join(user.home, "plugdbg")
	out, err := exec.Command("git", "-c", "safe.directory=*", "clone", "--quiet", "--no-hardlinks", repo, clone).CombinedOutput()
	require.NoError(t, err, "git clone: %s", out)
	out, err = exec.Command("chown", "-R", user.name+":"+user.name, clone).CombinedOutput()
	require.NoError(t, err, "chown: %s", out)

	// The user's shell: Go on their own PATH (where go.dev's install puts
	// it), which sudo replaces with its secure_path.
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = clone
	cmd.Env = []string{
		"HOME=" + user.home, "USER=" + user.name, "LOGNAME=" + user.name, "SHELL=/bin/sh", "LANG=C.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin:" + filepath.Dir(goBin),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true, // its own group, signalled as a terminal's Ctrl-C signals one
		Credential: &syscall.Credential{Uid: user.uid, Gid: user.gid, Groups: []uint32{user.gid}},
	}
	run := startWatched(t, cmd)
	// Whatever happens below, nothing of the run outlives the test.
	t.Cleanup(func() {
		if run.exited() {
			return
		}
		t.Errorf("cleanup: `%s` still runs: killing its process group", command)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-run.done
	})
	t.Cleanup(func() { cleanDefaultRoots(t, base) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output of `%s`:\n%s", command, tail(run.output(), 64<<10))
		}
	})

	// The banner: its first line, then the web UI's.
	first := regexp.MustCompile(`^plugdbgd is running \(pid (\d+)\) on unix://` + regexp.QuoteMeta(defaultSock) + ` `)
	line, ok := run.waitLine(first, readmeRunTimeout)
	require.True(t, ok, "no banner within %s (exited: %v)", readmeRunTimeout, run.exited())
	daemonPid := first.FindStringSubmatch(line)[1]
	line, ok = run.waitLine(regexp.MustCompile(`^  web UI: `), waitTimeout)
	require.True(t, ok, "no web UI line in the banner")
	m := regexp.MustCompile(`^  web UI:  (http://` + regexp.QuoteMeta(defaultUIAddr) + `/\?token=([0-9a-f]+))$`).FindStringSubmatch(line)
	require.NotNil(t, m, "the banner's web UI line: %q", line)
	url, token := m[1], m[2]
	// Two lines on: waited for, as the banner's lines come one by one (a
	// loaded machine showed the web UI's line before this one was written).
	line, ok = run.waitLine(regexp.MustCompile(`^  PATH: `), waitTimeout)
	require.True(t, ok, "no PATH line in the banner")
	assert.Equal(t, "  PATH:    sudo make install, or export PATH="+clone+"/build:$PATH", line, "the banner")

	// The page, with the token of this daemon's file.
	b, err := os.ReadFile(filepath.Join(defaultExecRoot, webui.TokenFile))
	require.NoError(t, err)
	assert.Equal(t, token, strings.TrimSpace(string(b)))
	st, err := os.Stat(filepath.Join(defaultExecRoot, webui.TokenFile))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), "token file mode")
	hc := &http.Client{Timeout: waitTimeout}
	resp, err := hc.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	assert.Contains(t, string(body), "<html", "the UI's page")
	// The token in the address stays on this origin: no Referer carries
	// it away, and no other origin may read the page.
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	// The socket is root's: the machine has no plugdbg group.
	if _, err := exec.Command("getent", "group", "plugdbg").Output(); err != nil {
		st, err := os.Stat(defaultSock)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o660)|fs.ModeSocket, st.Mode()&(fs.ModeSocket|fs.ModePerm), "socket mode")
		assert.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Gid, "socket group")
	}

	// The same command again, while the daemon runs: it says so and
	// starts nothing.
	again := exec.Command("/bin/sh", "-c", command)
	again.Dir, again.Env = clone, cmd.Env
	again.SysProcAttr = &syscall.SysProcAttr{Credential: cmd.SysProcAttr.Credential}
	out, err = again.CombinedOutput()
	require.Error(t, err, "a second `%s`: %s", command, out)
	assert.Contains(t, string(out), "run.sh: plugdbgd is already running (pid "+daemonPid+") on "+defaultDataRoot+"; stop it first (sudo kill "+daemonPid+")")
	assert.False(t, run.exited(), "the first run goes on")

	// Ctrl-C.
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	select {
	case <-run.done:
	case <-time.After(stopTimeout):
		require.FailNow(t, "`make run` did not exit after Ctrl-C", "within %s", stopTimeout)
	}
	for _, p := range []string{defaultSock, filepath.Join(defaultExecRoot, webui.TokenFile)} {
		_, err := os.Lstat(p)
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s after the daemon stopped", p)
	}
	assert.Empty(t, user.processes(), "the user's processes after Ctrl-C")
}

// readmeRunCommand is the README's run command: the first line of its
// first code block that runs `make run`, without its comment.
func readmeRunCommand(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(line), "#")
		cmd = strings.TrimSpace(cmd)
		if strings.Contains(cmd, "make run") {
			return cmd
		}
	}
	require.FailNow(t, "README.md has no indented `make run` command")
	return ""
}

// sudoUser is a user the test made, with sudo rights.
type sudoUser struct {
	name, home string
	uid, gid   uint32
}

// newSudoUser makes a user with home home, and a group of its own, that
// may run anything with sudo without a password, under the machine's
// sudoers defaults (Debian's: env_reset, secure_path). Cleanup kills what
// the user still runs (a failure), and removes the user, its group, its
// home and its sudoers file.
func newSudoUser(t *testing.T, home string) *sudoUser {
	t.Helper()
	u := &sudoUser{name: fmt.Sprintf("pdrun%d", os.Getpid()%1000000), home: home}
	out, err := exec.Command("useradd", "--create-home", "--home-dir", home, "--user-group", "--shell", "/bin/sh", u.name).CombinedOutput()
	require.NoError(t, err, "useradd: %s", out)
	sudoers := filepath.Join("/etc/sudoers.d", u.name)
	t.Cleanup(func() {
		if left := u.processes(); len(left) > 0 {
			t.Errorf("cleanup: user %s still runs %v: killing them", u.name, left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			poll(func() bool { return len(u.processes()) == 0 }, waitTimeout)
		}
		if err := os.Remove(sudoers); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
		if out, err := exec.Command("userdel", "--remove", u.name).CombinedOutput(); err != nil {
			t.Errorf("cleanup: userdel: %v: %s", err, out)
		}
	})
	for _, id := range []struct {
		flag string
		dst  *uint32
	}{{"-u", &u.uid}, {"-g", &u.gid}} {
		out, err := exec.Command("id", id.flag, u.name).Output()
		require.NoError(t, err)
		n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
		require.NoError(t, err)
		*id.dst = uint32(n)
	}
	// sudo ignores a file in sudoers.d that others may write; visudo
	// checks it before sudo reads it.
	require.NoError(t, os.WriteFile(sudoers+".tmp", []byte(u.name+" ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440))
	out, err = exec.Command("visudo", "-c", "-f", sudoers+".tmp").CombinedOutput()
	if err != nil {
		os.Remove(sudoers + ".tmp")
		require.NoError(t, err, "visudo: %s", out)
	}
	require.NoError(t, os.Rename(sudoers+".tmp", sudoers))
	return u
}

// processes lists the pids of u's processes.
func (u *sudoUser) processes() []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, err := os.Stat(filepath.Join("/proc", d.Name()))
		if err == nil && st.Sys().(*syscall.Stat_t).Uid == u.uid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// watched is a command whose output (stdout and stderr, as a terminal
// shows them) is kept and watched line by line.
type watched struct {
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string   // every line, for waitLine; closed at the output's end
	done  chan struct{} // closed when the command has exited
}

// startWatched starts cmd with its output watched.
func startWatched(t *testing.T, cmd *exec.Cmd) *watched {
	t.Helper()
	w := &watched{lines: make(chan string, 4096), done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		require.NoError(t, err, "start %q", cmd.Args)
	}
	go func() {
		defer close(w.lines)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			w.mu.Lock()
			w.out.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			select {
			case w.lines <- sc.Text():
			default: // no one is waiting for lines this far on
			}
		}
	}()
	// The output can outlast the command: whatever it started and left
	// running holds the pipe too.
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	return w
}

// waitLine waits up to timeout for a line matching re, and returns it;
// false if the output ended first or the time ran out.
func (w *watched) waitLine(re *regexp.Regexp, timeout time.Duration) (string, bool) {
	deadline, done := time.After(timeout), w.done
	for {
		select {
		case line, ok := <-w.lines:
			if !ok {
				return "", false
			}
			if re.MatchString(line) {
				return line, true
			}
		case <-done:
			// What the command wrote is in the pipe by now; a process it
			// left behind may hold the pipe open for good.
			deadline, done = time.After(waitTimeout), nil
		case <-deadline:
			return "", false
		}
	}
}

func (w *watched) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *watched) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// cleanDefaultRoots removes what `make run` left on the default roots: its
// plugins keep running after the daemon stops, by design. A daemon of the
// test's own build on those roots force-removes them and stops; whatever
// is left then (processes of the clone's binaries below base, containers,
// mounts) is cleared away, and the roots are removed.
func cleanDefaultRoots(t *testing.T, base string) {
	if _, err := os.Lstat(defaultDataRoot); errors.Is(err, fs.ErrNotExist) {
		return
	}
	logs, err := os.MkdirTemp("/tmp", "pdrun-clean")
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	d := &daemon{t: t, dir: logs, dataRoot: defaultDataRoot, execRoot: defaultExecRoot, sock: defaultSock, host: "unix://" + defaultSock}
	d.client = client.New(d.host)
	d.startWith("--ui-addr", "")
	d.cleanup() // rm -f of every plugin, SIGTERM, and the log directory removed
	killLeftovers(t, base, defaultExecRoot, true)
	for _, root := range []string{defaultExecRoot, defaultDataRoot} {
		unmountUnder(t, root)
		if err := os.RemoveAll(root); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}
