package integration

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/console"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
)

// TestEnableDiagnosisHostNetwork enables a plugin with host networking
// that listens on the wrong socket: the error names the socket the plugin
// made, and none of the host's other sockets (the daemon's, monitors',
// containerd's), although its network namespace shows them all. On a
// terminal the CLI says what it waits for; in a script, nothing more.
func TestEnableDiagnosisHostNetwork(t *testing.T) {
	d := startDaemon(t)
	dir := variantDir(t, "nosocket", func(cfg map[string]any) {
		cfg["network"] = map[string]any{"type": "host"}
	})
	require.NoError(t, d.client.CreateFromDir(testCtx(t), "hostnosock", dir))
	p := d.inspect(t, "hostnosock")
	// What the old listing read: the host's table, with the daemon's own
	// listener in it.
	require.Contains(t, hostListeners(t), d.sock, "the host's socket table shows other listeners")

	stdout, stderr, code := d.cli(t, "enable", "--timeout", "2", "hostnosock")
	t.Logf("enable:\n%s", stderr)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout, "nothing extra when the output is not a terminal")
	assert.Contains(t, stderr, "plugin did not create its socket "+p.State.Socket)
	_, listed, ok := strings.Cut(stderr, "; it listens on ")
	require.True(t, ok, "the error names what the plugin listens on: %s", stderr)
	listed, _, ok = strings.Cut(listed, " instead")
	require.True(t, ok, stderr)
	assert.Equal(t, "/run/docker/plugins/wrong.sock", listed, "exactly the plugin's own listener, once")
	assert.NotContains(t, stderr, d.sock)
	assert.NotContains(t, stderr, "containerd")
	assert.NotContains(t, stderr, "monitor")

	t.Run("on a terminal", func(t *testing.T) {
		master, slavePath, err := console.NewPty()
		require.NoError(t, err)
		defer master.Close()
		slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
		require.NoError(t, err)
		cmd := d.execCmd(testCtx(t), "enable", "--timeout", "2", "hostnosock")
		var errOut bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &errOut
		require.NoError(t, cmd.Start())
		slave.Close()
		var out bytes.Buffer
		copied := make(chan struct{})
		go func() { _, _ = io.Copy(&out, master); close(copied) }()
		err = cmd.Wait()
		<-copied // EIO once the CLI, the last holder of the pty's slave, has gone
		assert.Error(t, err)
		assert.Equal(t, "waiting for Plugin.Activate on "+p.State.Socket+" (timeout 2s)\r\n", out.String())
		assert.Contains(t, errOut.String(), "it listens on /run/docker/plugins/wrong.sock instead")
	})
}

// hostListeners lists the paths of the listening unix sockets of the
// test's network namespace, the host's.
func hostListeners(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("/proc/self/net/unix")
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 8 && fields[3] == "00010000" && strings.HasPrefix(fields[7], "/") {
			out = append(out, fields[7])
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestInstallNoTerminal: without a terminal, install lists the privileges
// the plugin needs, as docker does, then refuses; a registry's error with
// a detail reads as a sentence.
func TestInstallNoTerminal(t *testing.T) {
	d := startDaemon(t)
	reg, _ := testregistry.Start(t, testregistry.DetailedErrors)
	privileged := variantDir(t, "volume", func(cfg map[string]any) {
		cfg["network"] = map[string]any{"type": "host"}
		cfg["linux"] = map[string]any{"capabilities": []string{"CAP_SYS_ADMIN"}}
	})
	remote := reg + "/plugdbg/priv:1"
	require.NoError(t, d.client.CreateFromDir(testCtx(t), remote, privileged))
	d.ok(t, "push", remote)
	d.ok(t, "rm", remote)

	stdout, stderr, code := d.cli(t, "install", remote)
	assert.Equal(t, 1, code)
	assert.Equal(t, "Plugin \""+remote+"\" is requesting the following privileges:\n"+
		" - network: [host]\n"+
		" - capabilities: [CAP_SYS_ADMIN]\n", stdout)
	assert.Contains(t, stderr, "permission denied for plugin "+remote)
	assert.Contains(t, stderr, "--grant-all-permissions")
	assert.Empty(t, d.storeLeftovers(t))

	missing := reg + "/plugdbg/priv:2"
	stderr = d.fails(t, "install", "--grant-all-permissions", missing)
	assert.Equal(t, "Error: fetch manifest of "+missing+": manifest unknown (Tag=2)\n", stderr)
}
