package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// via is a view of d that the CLI helpers (cli, ok, execCmd, followCLI,
// eventsCLI, startTrace) reach at host instead of its socket. Only those:
// starting, stopping and cleaning up stay with d.
func (d *daemon) via(host string) *daemon {
	v := *d
	v.host = host
	return &v
}

// TestSSH drives a daemon through `-H ssh://root@127.0.0.1:PORT/<socket>`:
// a private sshd, the system ssh with the test's keys, and the plugdbg
// under test as the remote `plugdbg dial-stdio`. Every command, streams
// and `plugdbg ui` included, works as on the local socket, and each
// leaves no ssh process or session behind.
func TestSSH(t *testing.T) {
	s := startSSHD(t)
	key := s.newKey(t, "admin")
	s.authorize(t, key, s.remotePath())
	c := s.client(t, "admin", key)
	// Every CLI the helpers start finds the wrapper, and so the test's keys.
	t.Setenv("PATH", c.dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	d := startDaemonWith(t, "--ui-addr", "") // its own UI is not what is tested
	d.create(t, "vol", "volume")
	vol := d.enable(t, "vol")
	d.create(t, "ech", "echo")
	ech := d.enable(t, "ech")
	host := s.url(d.sock)
	r := d.via(host)

	// run is r.cli, and then no ssh process of it may be left.
	run := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		stdout, stderr, code = r.cli(t, args...)
		s.requireNoLeftovers(t)
		return stdout, stderr, code
	}
	ok := func(t *testing.T, args ...string) string {
		t.Helper()
		stdout, stderr, code := run(t, args...)
		require.Equal(t, 0, code, "plugdbg -H %s %q: stdout: %s\nstderr: %s", host, args, stdout, stderr)
		return stdout
	}

	t.Run("ls, inspect, version", func(t *testing.T) {
		out := ok(t, "ls")
		assert.Contains(t, out, vol.ID[:12])
		assert.Contains(t, out, "vol:latest")
		assert.Contains(t, out, "ech:latest")
		assert.Equal(t, vol.ID+" true\n", ok(t, "inspect", "-f", "{{.ID}} {{.Enabled}}", "vol"))
		local, _, code := d.cli(t, "version")
		require.Equal(t, 0, code)
		assert.Equal(t, local, ok(t, "version"), "the same daemon, reached over ssh")
	})

	t.Run("exec with exit status and stdin", func(t *testing.T) {
		out, errOut, code := run(t, "exec", "vol", "sh", "-c", "echo out; echo err >&2; exit 7")
		assert.Equal(t, 7, code)
		assert.Equal(t, "out\n", out)
		assert.Equal(t, "err\n", errOut)

		// The end of stdin reaches the process through ssh's half-close.
		input := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
		cmd := r.execCmd(testCtx(t), "exec", "-i", "vol", "sh", "-c", "sha256sum; echo done >&2")
		cmd.Stdin = bytes.NewReader(input)
		out, errOut, code = runCommand(t, cmd)
		require.Equal(t, 0, code, errOut)
		sum := sha256.Sum256(input)
		assert.Equal(t, hex.EncodeToString(sum[:])+"  -\n", out)
		assert.Equal(t, "done\n", errOut)
		s.requireNoLeftovers(t)
	})

	t.Run("exec -it with a pty", func(t *testing.T) {
		testExecTTY(t, r)
		s.requireNoLeftovers(t)
	})

	t.Run("logs -f", func(t *testing.T) {
		f := r.followCLI(t, "ech")
		// logs -f prints the history first: the first line comes whether
		// the follower was attached before it was written or not; the
		// second, written after the first arrived, only live.
		echoWrite(t, ech.State.Socket, "stdout", "over ssh 1\n")
		f.waitLine(t, "over ssh 1", waitTimeout)
		echoWrite(t, ech.State.Socket, "stderr", "over ssh 2\n")
		f.waitLine(t, "over ssh 2", waitTimeout)
		require.NoError(t, f.cmd.Process.Signal(os.Interrupt))
		select {
		case <-f.done:
		case <-time.After(waitTimeout):
			require.FailNow(t, "logs -f did not end on Ctrl-C")
		}
		s.requireNoLeftovers(t)
	})

	t.Run("trace", func(t *testing.T) {
		sock := vol.State.Socket
		tr := startTrace(t, r, "vol", sock) // its start line names the socket
		createVolume(t, sock, "viassh")
		tr.waitCall(t, "VolumeDriver.Create", `"viassh"`)
		tr.stop()
		// The daemon sees the trace's connection end, through ssh and
		// dial-stdio, and takes its proxy away.
		eventually(t, func() bool {
			return len(logLines(d.daemonLog(), "trace: socket", "restored", "plugin="+vol.ID)) == 1
		}, waitTimeout, "the daemon puts the plugin's socket back once the remote trace ended")
		s.requireNoLeftovers(t)
	})

	t.Run("events", func(t *testing.T) {
		p := d.create(t, "sync", "echo")
		ev := r.eventsCLI(t)
		// Settings on the disabled plugin tell when the subscription is live.
		i := 0
		eventually(t, func() bool {
			i++
			require.NoError(t, d.client.Set(testCtx(t), "sync", []string{fmt.Sprintf("BIG=%d", i)}))
			return len(ev.lines(p.ID)) > 0
		}, waitTimeout, "plugdbg events over ssh subscribed")
		d.enable(t, "sync")
		require.NoError(t, d.client.Disable(testCtx(t), "sync", false))
		re := regexp.MustCompile(` plugin (enable|disable) ` + p.ID + ` `)
		var acts []string
		eventuallyShow(t, func() bool {
			acts = nil
			for _, l := range ev.lines(p.ID) {
				if m := re.FindStringSubmatch(l); m != nil {
					acts = append(acts, m[1])
				}
			}
			return len(acts) == 2
		}, waitTimeout, func() string { return fmt.Sprintf("events: %q", ev.lines(p.ID)) })
		assert.Equal(t, []string{"enable", "disable"}, acts)
		require.NoError(t, ev.f.cmd.Process.Signal(os.Interrupt))
		<-ev.f.done
		s.requireNoLeftovers(t)
	})

	t.Run("stats --no-stream", func(t *testing.T) {
		out := ok(t, "stats", "--no-stream", "vol")
		assert.Regexp(t, `(?m)^ID\s+NAME\s+CPU %`, out)
		assert.Regexp(t, `(?m)^`+vol.ID[:12]+`\s+vol:latest\s`, out)
	})

	t.Run("push and install with progress", func(t *testing.T) {
		reg, _ := testregistry.Start(t, nil)
		ref := reg + "/plugdbg/sshvol:v1"
		require.NoError(t, d.client.CreateFromDir(testCtx(t), ref, pluginDir("volume")))
		out := ok(t, "push", ref)
		assert.Contains(t, out, "The push refers to repository ["+reg+"/plugdbg/sshvol]")
		assert.Regexp(t, `v1: digest: sha256:[0-9a-f]{64} size: \d+`, out)
		ok(t, "rm", ref)
		out = ok(t, "install", "--grant-all-permissions", "--alias", "fromreg", ref)
		assert.Contains(t, out, "Download complete")
		assert.Contains(t, out, "Installed plugin "+ref+"\n")
		assert.True(t, d.inspect(t, "fromreg").Enabled)
	})

	t.Run("ui", func(t *testing.T) {
		ui := startUIRelay(t, host)
		page, err := http.Get(ui.url)
		require.NoError(t, err)
		page.Body.Close()
		assert.Equal(t, http.StatusOK, page.StatusCode, "the page")
		ws := uiSocket(t, ui.addr, ui.token)
		require.NoError(t, ws.WriteJSON(map[string]any{"type": "logs.subscribe", "id": "L1", "plugin": ech.Name, "tail": 0}))
		waitFollowing(t, ws, "L1")
		echoWrite(t, ech.State.Socket, "stdout", "through ssh and the relay\n")
		assert.Equal(t, []string{"through ssh and the relay"}, uiTexts(readLines(t, ws, "through ssh and the relay")))
		ws.Close()
		ui.stop(t, syscall.SIGINT)
		s.requireNoLeftovers(t)
	})

	tunnel := hasConnect(t, d, "vol")

	t.Run("bundle", func(t *testing.T) {
		// As on another machine: the plugin's socket is not there.
		out, errOut, code := remoteCLI(t, host, d.dir, "bundle", "vol")
		require.Equal(t, 0, code, errOut)
		s.requireNoLeftovers(t)
		files := untarGz(t, []byte(out))
		for _, name := range []string{"manifest.json", "inspect.json", "logs.txt", "events.json", "usage.json", "top.json", "stats.json", "errors.txt"} {
			assert.Contains(t, files, name)
		}
		assert.Contains(t, files["inspect.json"], vol.ID)
		if tunnel {
			assert.Contains(t, files, "check.json", "the check reaches the plugin through the daemon; errors.txt: %s", files["errors.txt"])
		} else {
			// Without the tunnel the check has only the socket's path on
			// the daemon's host to go by.
			assert.Contains(t, files["errors.txt"], "check:")
			t.Logf("bundle over ssh: no conformance check without POST /plugins/{name}/connect; errors.txt: %s", files["errors.txt"])
		}
	})

	t.Run("probe", func(t *testing.T) {
		if !tunnel {
			t.Skip("the daemon answers 404 to POST /plugins/{name}/connect: probe over ssh needs the plugin-socket tunnel")
		}
		out, errOut, code := remoteCLI(t, host, d.dir, "probe", "vol", "Plugin.Activate")
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "VolumeDriver")
		s.requireNoLeftovers(t)
	})
}

// TestSSHErrors: each way an ssh:// host can fail says which it is, and
// leaves no ssh process behind.
func TestSSHErrors(t *testing.T) {
	s := startSSHD(t)
	admin := s.newKey(t, "admin")
	s.authorize(t, admin, s.remotePath())
	nopath := s.newKey(t, "nopath")
	s.authorize(t, nopath, "/usr/bin:/bin")
	stranger := s.newKey(t, "stranger") // never authorized
	d := startDaemon(t)
	host := s.url(d.sock)
	adminC := s.client(t, "admin", admin)
	nopathC := s.client(t, "nopath", nopath)

	// The remote shell's own startup files may add to PATH: the key
	// without plugdbg on its PATH must really be without.
	check := exec.Command(filepath.Join(nopathC.dir, "ssh"), "-p", fmt.Sprint(s.port), "root@127.0.0.1", "command -v plugdbg")
	if out, err := check.CombinedOutput(); err == nil {
		t.Skipf("root's shell startup files put a plugdbg on the remote PATH (%s): cannot test its absence", strings.TrimSpace(string(out)))
	}
	s.requireNoLeftovers(t)

	out, errOut, code := runCLIEnv(t, adminC.env(host), "ls")
	require.Equal(t, 0, code, "the control: with the admin key ls works: %s%s", out, errOut)
	s.requireNoLeftovers(t)

	noSSH := []string{"PATH=" + t.TempDir(), "PLUGDBG_HOST=" + host}
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"no ssh on PATH", noSSH, []string{
			"cannot connect to the plugdbg daemon at " + host + ": ",
			"no ssh client: ssh is not in PATH",
		}},
		{"auth failed", s.client(t, "stranger", stranger).env(host), []string{
			"cannot connect to the plugdbg daemon at " + host + ": ",
			"ssh authentication to 127.0.0.1 failed",
			"Permission denied (publickey)",
		}},
		{"no plugdbg on the remote PATH", nopathC.env(host), []string{
			"plugdbg is not on the remote PATH of 127.0.0.1",
			"plugdbg: command not found",
		}},
		{"no daemon there", adminC.env(s.url(d.dir + "/nosuch.sock")), []string{
			"no plugdbg daemon answers on 127.0.0.1",
			d.dir + "/nosuch.sock",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLIEnv(t, tt.env, "ls")
			assert.Equal(t, 1, code)
			assert.Empty(t, out)
			for _, w := range tt.want {
				assert.Contains(t, errOut, w)
			}
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			t.Logf("plugdbg ls: %s", errOut)
			s.requireNoLeftovers(t)
		})
	}
}

// runCLIEnv runs plugdbg with env as its whole environment.
func runCLIEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, args...)
	cmd.Env = env
	return runCommand(t, cmd)
}

// remoteCLI runs plugdbg with PLUGDBG_HOST=host in
// a mount namespace of its own where hide, the daemon's directory, is an
// empty tmpfs: as on another machine, nothing of the daemon's host is
// there, so a command that reaches a plugin does so through the daemon,
// not by the socket path it was told. The ssh it runs connects over TCP
// and so is not hindered.
func remoteCLI(t *testing.T, host, hide string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"-c", `mount -t tmpfs -o size=64k pdi-elsewhere "$0" && exec "$@"`, hide, plugdbgBin}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", argv...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+host)
	// Go makes / private in the new namespace, so the tmpfs stays in it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return runCommand(t, cmd)
}

// hasConnect reports whether the daemon has the plugin-socket tunnel,
// POST /plugins/{name}/connect: a daemon without it answers 404 "page not
// found".
func hasConnect(t *testing.T, d *daemon, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://plugdbg/plugins/"+name+"/connect", nil)
	require.NoError(t, err)
	hc := unixHTTP(d.sock, 0)
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close() // a tunnel that opened is closed unused
	if resp.StatusCode != http.StatusNotFound {
		return true
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return !strings.Contains(string(body), "page not found")
}

// untarGz returns the regular files of a tar.gz by name.
func untarGz(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = string(b)
	}
}
