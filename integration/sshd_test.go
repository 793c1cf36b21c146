package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sshdBin is Debian's OpenSSH server (openssh-server; scripts/deps.sh test
// installs it).
const sshdBin = "/usr/sbin/sshd"

// sshServer is a private OpenSSH sshd on 127.0.0.1, for the ssh:// host
// tests: its own host key, config and authorized_keys in a temp dir, root
// logins by key only. The remote command ssh:// runs is literally
// `plugdbg`, so each authorized key carries the PATH its sessions get
// (PermitUserEnvironment PATH): a key made with binDir on that PATH finds
// the plugdbg under test.
type sshServer struct {
	t       *testing.T
	dir     string
	binDir  string // holds `plugdbg`, a link to the plugdbg under test
	sshBin  string // the real ssh client
	port    int
	hostKey string // the host's public key line
	log     string // sshd's stderr
	cmd     *exec.Cmd
	done    chan struct{} // closed when sshd has exited
}

// sshKey is a client key pair.
type sshKey struct{ private, public string }

// sshClient is the ssh client setup of one key: an ssh_config with its
// identity and the server's host key, and a directory holding an `ssh`
// wrapper that runs the real ssh with that config (-F). ssh reads the
// config under the passwd entry's home, not $HOME, so only a wrapper first
// on PATH keeps the tests away from ~/.ssh.
type sshClient struct {
	dir    string // put first on PATH: it holds `ssh`
	config string
}

// startSSHD starts an sshd on a free loopback port and waits until it
// answers with its banner. Cleanup stops it and fails the test if a
// session or an ssh client of it is still running.
func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	if _, err := os.Stat(sshdBin); err != nil {
		t.Skipf("no %s (scripts/deps.sh test installs openssh-server)", sshdBin)
	}
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no ssh client (scripts/deps.sh test installs openssh-client)")
	}
	// sshd's privilege separation directory, compiled in; Debian's init
	// scripts make it, and this machine may never have run them.
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755))

	dir := t.TempDir()
	s := &sshServer{t: t, dir: dir, binDir: filepath.Join(dir, "bin"), sshBin: sshBin, log: filepath.Join(dir, "sshd.log")}
	require.NoError(t, os.MkdirAll(s.binDir, 0o755))
	require.NoError(t, os.Symlink(plugdbgBin, filepath.Join(s.binDir, "plugdbg")))
	keygen(t, filepath.Join(dir, "host_key"))
	b, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	require.NoError(t, err)
	s.hostKey = strings.TrimSpace(string(b))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), nil, 0o600))

	// A port found free may be taken before sshd binds it: sshd says so
	// and exits, and another port is tried.
	for attempt := 1; ; attempt++ {
		ok, why := s.start(t)
		if ok {
			break
		}
		require.Less(t, attempt, 5, "sshd did not start: %s", why)
		t.Logf("sshd: %s; trying another port", why)
	}
	t.Cleanup(s.stop)
	s.waitBanner(t)
	return s
}

// keygen makes an ed25519 key pair at path and path.pub.
func keygen(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", filepath.Base(path), "-f", path).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
}

// start runs sshd on a port that was free a moment ago. It reports false,
// with sshd's reason, if sshd could not bind it; any other failure fails
// the test.
func (s *sshServer) start(t *testing.T) (ok bool, why string) {
	t.Helper()
	s.port = freePort(t)
	config := filepath.Join(s.dir, "sshd_config")
	conf := strings.Join([]string{
		fmt.Sprintf("ListenAddress 127.0.0.1:%d", s.port),
		"HostKey " + filepath.Join(s.dir, "host_key"),
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		// The files live in a temp dir of the test, not under ~/.ssh.
		"StrictModes no",
		// Only PATH, from each key's environment= option.
		"PermitUserEnvironment PATH",
		"PrintMotd no",
		"X11Forwarding no",
		"AllowAgentForwarding no",
		"AllowTcpForwarding no",
		// The CLI may open several connections at once.
		"MaxStartups 100",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
	require.NoError(t, os.WriteFile(config, []byte(conf), 0o600))

	logf, err := os.Create(s.log)
	require.NoError(t, err)
	cmd := exec.Command(sshdBin, "-D", "-e", "-f", config)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	listening := make(chan struct{})
	bindFailed := make(chan string, 1)
	go func() {
		defer logf.Close()
		// sshd's stderr goes to its log; the lines that tell how its start
		// went are signalled.
		sc := bufio.NewScanner(io.TeeReader(stderr, logf))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, fmt.Sprintf("Server listening on 127.0.0.1 port %d", s.port)):
				close(listening)
			case strings.HasPrefix(line, "Bind to port") && strings.Contains(line, "failed"):
				select {
				case bindFailed <- line:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-listening:
		s.cmd, s.done = cmd, done
		return true, ""
	case <-done:
		select {
		case line := <-bindFailed:
			return false, line
		default:
		}
		b, _ := os.ReadFile(s.log)
		require.FailNow(t, "sshd exited at its start", "%v; log:\n%s", cmd.ProcessState, b)
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		<-done
		b, _ := os.ReadFile(s.log)
		require.FailNow(t, "sshd did not say it listens", "log:\n%s", b)
	}
	return false, ""
}

// freePort returns a loopback TCP port nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// waitBanner connects and reads the server's identification line: the
// port is sshd's, and it takes connections.
func (s *sshServer) waitBanner(t *testing.T) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr(), waitTimeout)
	require.NoError(t, err, "connect to sshd")
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitTimeout)))
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err, "sshd's banner")
	require.True(t, strings.HasPrefix(line, "SSH-2.0-OpenSSH"), "banner %q", line)
}

func (s *sshServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// url is the ssh:// host of the daemon at socket on this server, as root.
func (s *sshServer) url(socket string) string {
	return fmt.Sprintf("ssh://root@%s%s", s.addr(), socket)
}

// newKey makes a client key pair named name. It is not authorized.
func (s *sshServer) newKey(t *testing.T, name string) sshKey {
	t.Helper()
	k := sshKey{private: filepath.Join(s.dir, "id_"+name)}
	keygen(t, k.private)
	b, err := os.ReadFile(k.private + ".pub")
	require.NoError(t, err)
	k.public = strings.TrimSpace(string(b))
	return k
}

// authorize lets key log in as root, its sessions getting PATH=path.
func (s *sshServer) authorize(t *testing.T, k sshKey, path string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = fmt.Fprintf(f, "environment=\"PATH=%s\" %s\n", path, k.public)
	require.NoError(t, err)
}

// remotePath is the PATH of a key that finds the plugdbg under test.
func (s *sshServer) remotePath() string { return s.binDir + ":/usr/bin:/bin" }

// client makes the ssh client setup that logs in with key k.
func (s *sshServer) client(t *testing.T, name string, k sshKey) *sshClient {
	t.Helper()
	c := &sshClient{dir: filepath.Join(s.dir, "client-"+name), config: filepath.Join(s.dir, "ssh_config-"+name)}
	require.NoError(t, os.MkdirAll(c.dir, 0o755))
	knownHosts := filepath.Join(s.dir, "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", s.port, s.hostKey)), 0o644))
	conf := strings.Join([]string{
		"Host *",
		"  IdentityFile " + k.private,
		"  IdentitiesOnly yes",
		"  IdentityAgent none",
		"  UserKnownHostsFile " + knownHosts,
		"  GlobalKnownHostsFile /dev/null",
		"  StrictHostKeyChecking yes",
		"  BatchMode yes",
		"  LogLevel ERROR",
	}, "\n") + "\n"
	require.NoError(t, os.WriteFile(c.config, []byte(conf), 0o644))
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", s.sshBin, c.config)
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, "ssh"), []byte(wrapper), 0o755))
	return c
}

// env is the environment of a CLI that reaches host through this client.
func (c *sshClient) env(host string) []string {
	return append(os.Environ(), "PATH="+c.dir+string(os.PathListSeparator)+os.Getenv("PATH"), "PLUGDBG_HOST="+host)
}

// leftovers lists what runs of the server's connections: ssh clients with
// one of its configs (or their wrappers) and sshd's children, which are
// the sessions and the commands they run.
func (s *sshServer) leftovers() []process {
	var out []process
	for _, p := range processes() {
		if strings.Contains(strings.Join(p.args, " "), s.dir+"/") && p.pid != s.cmd.Process.Pid {
			out = append(out, p)
		}
	}
	return append(out, descendants(s.cmd.Process.Pid)...)
}

// requireNoLeftovers waits until no ssh client of the server and no
// session on it runs: each connection a CLI opened ends with it.
func (s *sshServer) requireNoLeftovers(t *testing.T) {
	t.Helper()
	var left []process
	if !poll(func() bool { left = s.leftovers(); return len(left) == 0 }, waitTimeout) {
		require.Fail(t, "ssh processes left running", "%s", describe(left))
	}
}

func describe(ps []process) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%d %q\n", p.pid, p.args)
	}
	return b.String()
}

// descendants lists the live processes below pid.
func descendants(pid int) []process {
	parent := map[int]int{}
	all := processes()
	for _, p := range all {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[1] is field 4, the parent
		if len(f) > 1 {
			parent[p.pid], _ = strconv.Atoi(f[1])
		}
	}
	var out []process
	for _, p := range all {
		for q := parent[p.pid]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// stop fails the test if a session or client is still running, kills
// them, and stops sshd.
func (s *sshServer) stop() {
	t := s.t
	left := s.leftovers()
	if len(left) > 0 {
		t.Errorf("cleanup: ssh processes left running:\n%s", describe(left))
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		t.Errorf("cleanup: sshd ignored SIGTERM for %s; killing it", stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if t.Failed() {
		b, _ := os.ReadFile(s.log)
		t.Logf("sshd log:\n%s", tail(string(b), 32<<10))
	}
	if left := s.leftovers(); len(left) > 0 {
		t.Errorf("cleanup: still running after sshd stopped:\n%s", describe(left))
	}
}
