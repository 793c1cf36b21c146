package manager

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListeningSockets finds the test process's own listeners from its
// descriptors: each once (an accepted connection shows the listener's
// path too), not a bound socket that does not listen, not a connection,
// and nothing of the other processes sharing the network namespace.
func TestListeningSockets(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdls") // short: a socket path has 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })

	listen := func(network, addr string) net.Listener {
		l, err := net.Listen(network, addr)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		return l
	}
	spaced := filepath.Join(dir, "with space.sock")
	l := listen("unix", spaced)
	abstract := fmt.Sprintf("@pdls-%d", os.Getpid())
	listen("unix", abstract)

	// A connection accepted on l: the table names l's path once more.
	c, err := net.Dial("unix", spaced)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	a, err := l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })

	// Bound, but datagram: it never listens.
	g, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "dgram.sock"), Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })

	// A listener of another process, in the same network namespace.
	other := filepath.Join(dir, "other.sock")
	cmd := otherListener(t, other)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// Other tests of the package may have listeners of their own in this
	// process: look at this test's only.
	mine := func(names []string) []string {
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, dir+"/") || n == abstract {
				out = append(out, n)
			}
		}
		return out
	}
	got := listeningSockets([]int{os.Getpid()})
	assert.Equal(t, []string{spaced, abstract}, mine(got), "sorted: paths, then abstract names")
	assert.True(t, slices.IsSorted(got) && len(slices.Compact(slices.Clone(got))) == len(got), "sorted, each once: %q", got)

	assert.Equal(t, []string{other}, mine(listeningSockets([]int{cmd.Process.Pid})), "the other process's listener is found from its own descriptors")
	assert.Equal(t, []string{other, spaced, abstract}, mine(listeningSockets([]int{os.Getpid(), cmd.Process.Pid, os.Getpid()})), "each once")
	assert.Empty(t, listeningSockets([]int{1 << 30}), "a process that is gone has none")
}

// otherListener starts a process that holds a listener on path, the test
// process keeping no descriptor of it.
func otherListener(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File()
	require.NoError(t, err)
	cmd := exec.Command("sleep", "600")
	cmd.ExtraFiles = []*os.File{f}
	err = cmd.Start() // returns once the child runs sleep, fd 3 its copy
	f.Close()
	l.Close()
	require.NoError(t, err)
	return cmd
}

func TestSplitFields(t *testing.T) {
	tests := []struct {
		name, line string
		wantFields []string
		wantRest   string
	}{
		{name: "path with spaces", line: "0000: 00000002 00000000 00010000 0001 01 123 /run/a b.sock", wantFields: []string{"0000:", "00000002", "00000000", "00010000", "0001", "01", "123"}, wantRest: "/run/a b.sock"},
		{name: "unnamed", line: "0000: 00000002 00000000 00000000 0001 03 124", wantFields: []string{"0000:", "00000002", "00000000", "00000000", "0001", "03", "124"}},
		{name: "short", line: "0000: 2", wantFields: []string{"0000:", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields, rest := splitFields(tt.line, 7)
			assert.Equal(t, tt.wantFields, fields)
			assert.Equal(t, tt.wantRest, rest)
		})
	}
}
