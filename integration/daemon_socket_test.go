package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/webui"
)

// TestSocketGroup: --group gives the API socket to a group, mode 0660, as
// dockerd's; a group that does not exist stops the daemon before it
// starts, saying so.
func TestSocketGroup(t *testing.T) {
	d := startDaemonWith(t, "--group", "nogroup", "--ui-addr", "")
	st, err := os.Stat(d.sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm(), "socket mode")
	assert.Equal(t, uint32(0), st.Sys().(*syscall.Stat_t).Uid, "socket owner")
	assert.Equal(t, uint32(65534), st.Sys().(*syscall.Stat_t).Gid, "socket group (nogroup)")

	dir := t.TempDir()
	out, err := exec.Command(plugdbgdBin, "--data-root", filepath.Join(dir, "d"), "--exec-root", filepath.Join(dir, "x"),
		"-H", "unix://"+filepath.Join(dir, "api.sock"), "--group", "plugdbg-no-such-group").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `invalid --group "plugdbg-no-such-group": no such group`)
	assert.NoFileExists(t, filepath.Join(dir, "api.sock"))
}

// TestSecondDaemonNamesFirst: a daemon started on roots another one uses
// refuses, naming the one running and its pid.
func TestSecondDaemonNamesFirst(t *testing.T) {
	d := startDaemonWith(t, "--ui-addr", "")
	other := filepath.Join(t.TempDir(), "other.sock")
	out, err := exec.Command(plugdbgdBin, "--data-root", d.dataRoot, "--exec-root", d.execRoot, "-H", "unix://"+other, "--ui-addr", "").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "plugdbgd is already running (pid "+strconv.Itoa(d.proc.cmd.Process.Pid)+") on "+d.dataRoot)
	assert.NoFileExists(t, other)
}

// TestTokenFileGoesWithDaemon: the web UI's token file is removed when the
// daemon stops; one a killed daemon left is replaced, owner-only, by the
// next daemon's.
func TestTokenFileGoesWithDaemon(t *testing.T) {
	d := startDaemonWith(t, "--ui-addr", freeAddr(t))
	path := filepath.Join(d.execRoot, webui.TokenFile)
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	d.stop()
	assert.NoFileExists(t, path, "after SIGTERM")

	d.startWith("--ui-addr", freeAddr(t))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotEqual(t, strings.TrimSpace(string(first)), strings.TrimSpace(string(second)), "a new token each run")
	d.kill9()
	require.FileExists(t, path, "a killed daemon cannot remove it")

	// The next daemon, with the UI off, leaves no token of the killed
	// one's for a script to read.
	d.startWith("--ui-addr", "")
	assert.NoFileExists(t, path, "with the UI off")
	d.stop()
	d.startWith("--ui-addr", freeAddr(t))
	third, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotEqual(t, strings.TrimSpace(string(second)), strings.TrimSpace(string(third)))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
