package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
)

func skipIfNotRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		name        string
		base, extra []string
		want        []string
	}{
		{name: "nothing added", base: []string{"PATH=/bin", "A=1"}, want: []string{"PATH=/bin", "A=1"}},
		{name: "added", base: []string{"A=1"}, extra: []string{"B=2"}, want: []string{"A=1", "B=2"}},
		{name: "overridden in place", base: []string{"A=1", "B=2"}, extra: []string{"A=3"}, want: []string{"A=3", "B=2"}},
		{name: "value with =", base: nil, extra: []string{"A=x=y"}, want: []string{"A=x=y"}},
		{name: "empty value", base: []string{"A=1"}, extra: []string{"A="}, want: []string{"A="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := slices.Clone(tt.base)
			assert.Equal(t, tt.want, mergeEnv(base, tt.extra))
			assert.Equal(t, tt.base, base, "base is not changed")
		})
	}
}

func TestLookInRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "opt", "tool"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin", "run"), []byte("x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin", "data"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "opt", "tool", "t"), []byte("x"), 0o755))
	require.NoError(t, os.Symlink("run", filepath.Join(root, "bin", "link")))
	// Absolute and ".." links resolve inside the root, as in the container,
	// never to the host's /bin/true.
	require.NoError(t, os.Symlink("/bin/true", filepath.Join(root, "bin", "abs")))
	require.NoError(t, os.Symlink("../../../../../../bin/true", filepath.Join(root, "bin", "dotdot")))
	f, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	defer f.Close()

	tests := []struct {
		cmd, path, cwd string
		want           bool
	}{
		{"run", "/bin", "/", true},
		{"run", "/usr/bin:/bin", "/", true},
		{"run", "/usr/bin", "/", false},
		{"data", "/bin", "/", false},
		{"link", "/bin", "/", true},
		{"abs", "/bin", "/", false},
		{"dotdot", "/bin", "/", false},
		{"/bin/run", "", "/", true},
		{"/bin", "", "/", false},
		{"tool/t", "", "/opt", true},
		{"t", "tool", "/opt", true},
		{"../bin/run", "", "/opt", true},
		{"../../../bin/run", "", "/", true},
		{"nosuch", "/bin", "/", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, lookInRoot(f, tt.cmd, tt.path, tt.cwd), "%s in PATH=%s cwd=%s", tt.cmd, tt.path, tt.cwd)
	}
}

func TestStartError(t *testing.T) {
	var se *execproto.StartError
	err := startError("x", errors.New(`exec: "x": executable file not found in $PATH`))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 127, se.ExitCode)
	err = startError("x", errors.New("exec /x: permission denied"))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 126, se.ExitCode)
	err = startError("x", errors.New("something else"))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 126, se.ExitCode)
}

func TestFormatCPUTime(t *testing.T) {
	assert.Equal(t, "00:00:00", formatCPUTime(999*time.Millisecond))
	assert.Equal(t, "01:02:03", formatCPUTime(time.Hour+2*time.Minute+3*time.Second))
	assert.Equal(t, "2-00:00:01", formatCPUTime(48*time.Hour+time.Second))
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(100, 0)
	prev := types.Stats{Read: t0, CPUUsage: 1e9}
	assert.InDelta(t, 50.0, CPUPercent(prev, types.Stats{Read: t0.Add(time.Second), CPUUsage: 1.5e9}), 1e-9)
	assert.InDelta(t, 200.0, CPUPercent(prev, types.Stats{Read: t0.Add(time.Second), CPUUsage: 3e9}), 1e-9, "two CPUs busy")
	assert.Zero(t, CPUPercent(prev, types.Stats{Read: t0, CPUUsage: 2e9}), "no time passed")
	assert.Zero(t, CPUPercent(prev, types.Stats{Read: t0.Add(time.Second), CPUUsage: 0}), "counter reset")
}

func TestToolbox(t *testing.T) {
	skipIfNotRoot(t)
	_, err := BuildToolbox(filepath.Join(t.TempDir(), "tb"), []string{"/nonexistent/busybox"})
	require.ErrorIs(t, err, ErrNoToolbox)

	dir := filepath.Join(t.TempDir(), "tb")
	tb, err := BuildToolbox(dir, BusyboxCandidates)
	if errors.Is(err, ErrNoToolbox) {
		t.Skip("no static busybox here (scripts/deps.sh installs busybox-static)")
	}
	require.NoError(t, err)
	for _, name := range []string{"sh", "ls", "cat", "ps", "env", "mount", "df", "find", "grep", "netstat", "busybox"} {
		assert.True(t, tb.Has(name), name)
	}
	assert.False(t, tb.Has("nosuch"))
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|0o555, st.Mode())

	// A rebuild replaces the read-only toolbox.
	tb, err = BuildToolbox(dir, BusyboxCandidates)
	require.NoError(t, err)

	f, err := tb.Open()
	require.NoError(t, err)
	defer f.Close()
	fd := int(f.Fd())
	_, err = unix.Openat(fd, "new", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	assert.ErrorIs(t, err, unix.EROFS, "the clone is read-only, even for root")
	var self, parent unix.Stat_t
	require.NoError(t, unix.Fstatat(fd, "", &self, unix.AT_EMPTY_PATH))
	require.NoError(t, unix.Fstatat(fd, "..", &parent, 0))
	assert.Equal(t, self.Ino, parent.Ino, "'..' of the detached clone is itself, not the host's parent directory")
	assert.Equal(t, self.Dev, parent.Dev)
	var bb unix.Stat_t
	require.NoError(t, unix.Fstatat(fd, "sh", &bb, 0))
	assert.Equal(t, uint32(0o555), bb.Mode&0o7777, "sh leads to the busybox copy")
}
