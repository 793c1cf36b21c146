package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// claimEnv makes the test binary a process that claims the monitor
// directory it names, says so on stdout, and waits to be killed: a monitor,
// as far as ownership goes.
const claimEnv = "PLUGDBG_TEST_CLAIM_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(claimEnv); dir != "" {
		_, _, err := claim(dir, os.Getenv(claimEnv+"_TOKEN"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("claimed")
		select {}
	}
	os.Exit(m.Run())
}

// writeConfig writes a monitor config with token into dir.
func writeConfig(t *testing.T, dir, token string) {
	t.Helper()
	b, err := json.Marshal(Config{ID: "x", Token: token})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, configFile), b, 0o600))
}

// owned starts a process that claims dir with token and returns it once it
// owns dir. It is killed with the test.
func owned(t *testing.T, dir, token string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), claimEnv+"="+dir, claimEnv+"_TOKEN="+token)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "claimed\n", line)
	return cmd
}

func gone(pid int) bool {
	// Our child: a zombie until reaped, so ask for its state.
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	var state byte
	for i := len(st) - 1; i > 0; i-- {
		if st[i] == ')' {
			state = st[i+2]
			break
		}
	}
	return state == 'Z' || state == 'X'
}

func TestClaimWaitsForThePreviousOwner(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "t1")
	prev := owned(t, dir, "t1")

	o, ok := readOwner(dir)
	require.True(t, ok, "owner recorded")
	assert.Equal(t, prev.Process.Pid, o.Pid)

	// While the owner lives, nobody else gets the directory.
	_, err := lockDir(dir, 50*time.Millisecond, nil)
	require.ErrorContains(t, err, fmt.Sprintf("pid %d still holds it", prev.Process.Pid))

	require.NoError(t, prev.Process.Kill())
	_, lock, err := claim(dir, "t1")
	require.NoError(t, err, "claim once the owner is gone")
	defer lock.Close()
	o, ok = readOwner(dir)
	require.True(t, ok)
	assert.Equal(t, os.Getpid(), o.Pid)
}

func TestClaimRefusesAnotherRunsDirectory(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "new-run")
	owned(t, dir, "new-run")
	// A monitor handed the directory for an earlier run gives up at once
	// (waiting for the owner, it would fail to get the lock instead).
	_, _, err := claim(dir, "old-run")
	assert.ErrorIs(t, err, errStale)
}

func TestClaimOfARemovedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, _, err := claim(dir, "t")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestCleanupKillsTheOwner(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "id")
	require.NoError(t, os.Mkdir(dir, 0o700))
	writeConfig(t, dir, "t")
	owner := owned(t, dir, "t")

	require.NoError(t, Cleanup(dir, filepath.Join(root, "runc"), "id"))
	assert.True(t, gone(owner.Process.Pid), "the monitor still runs")
	assert.NoDirExists(t, dir)
	// Nothing left: a no-op.
	require.NoError(t, Cleanup(dir, filepath.Join(root, "runc"), "id"))
}

func TestSignalOwnerChecksStartTime(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "60")
	require.NoError(t, sleeper.Start())
	exited := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(exited) }()
	t.Cleanup(func() { _ = sleeper.Process.Kill(); <-exited })
	pid := sleeper.Process.Pid
	start, err := procStart(pid)
	require.NoError(t, err)

	// A record of an earlier process that had the same pid.
	b, _ := json.Marshal(owner{Pid: pid, Start: start - 1})
	require.NoError(t, os.WriteFile(filepath.Join(dir, pidFile), b, 0o600))
	assert.Zero(t, signalOwner(dir, syscall.SIGKILL))
	assert.False(t, gone(pid), "a process that reused the pid was killed")

	b, _ = json.Marshal(owner{Pid: pid, Start: start})
	require.NoError(t, os.WriteFile(filepath.Join(dir, pidFile), b, 0o600))
	assert.Equal(t, pid, signalOwner(dir, syscall.SIGKILL))
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the recorded process was not killed")
	}
}

func TestScan(t *testing.T) {
	root, stateRoot := t.TempDir(), t.TempDir()
	mk := func(id string, files ...string) string {
		dir := filepath.Join(root, id)
		require.NoError(t, os.Mkdir(dir, 0o700))
		writeConfig(t, dir, "t-"+id)
		for _, f := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600))
		}
		return dir
	}
	mk("finished", exitFile)
	mk("unfinished")
	mk("half-written", exitFile, ".exit.json.tmp-1")
	owner := owned(t, mk("live"), "t-live")
	require.NoError(t, os.Mkdir(filepath.Join(stateRoot, "state-only"), 0o711))
	require.NoError(t, os.WriteFile(filepath.Join(root, "spare.log"), nil, 0o600))

	left, err := Scan(root, stateRoot)
	require.NoError(t, err)
	assert.Equal(t, map[string]Leftover{
		"finished":     {Dir: true, Finished: true},
		"unfinished":   {Dir: true},
		"half-written": {Dir: true},
		"live":         {Dir: true, Monitor: true, MonitorPid: owner.Process.Pid},
		"state-only":   {State: true},
	}, left)
	assert.True(t, left["live"].Running())
	assert.False(t, left["finished"].Running())
	assert.Equal(t, "monitor pid "+fmt.Sprint(owner.Process.Pid)+", an unfinished monitor dir", left["live"].String())
}
