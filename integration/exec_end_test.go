package integration

import (
	"bufio"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExecClientGone kills -9 the CLI of an exec whose shell has a child
// running: the whole session must end with it, the child included, also
// with a TTY and a child that ignores SIGHUP (SIGKILL after the grace).
func TestExecClientGone(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	p := d.enable(t, "vol")

	tests := []struct {
		name  string
		args  []string
		sleep string // the child as top shows it
	}{
		{name: "pipes", args: []string{"vol", "sh", "-c", "echo ready; sleep 301; echo"}, sleep: "sleep 301"},
		{name: "tty, HUP ignored", args: []string{"-t", "vol", "sh", "-c", `trap "" HUP; echo ready; sleep 302; echo`}, sleep: "sleep 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := d.execCmd(testCtx(t), append([]string{"exec"}, tt.args...)...)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			lines := bufio.NewScanner(stdout)
			require.True(t, lines.Scan(), "no output from the exec")
			require.Equal(t, "ready", strings.TrimSpace(lines.Text()))
			top := waitTop(t, d, "vol", func(top string) bool { return strings.Contains(top, tt.sleep) })
			require.Contains(t, top, tt.sleep, "the exec's child is running")

			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
			top = waitTop(t, d, "vol", func(top string) bool {
				return !strings.Contains(top, tt.sleep) && !strings.Contains(top, "sh -c")
			})
			assert.NotContains(t, top, tt.sleep, "the exec's child outlived its client")
			assert.NotContains(t, top, "sh -c", "the exec's shell outlived its client")
			assert.Contains(t, top, "/pdvol", "the plugin itself runs on")
			assert.Equal(t, p.State.Pid, d.inspect(t, "vol").State.Pid, "the plugin was not restarted")
		})
	}
}

// waitTop polls `plugdbg top ref` until done holds for its output, or
// waitTimeout passes, and returns the last output.
func waitTop(t *testing.T, d *daemon, ref string, done func(top string) bool) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		top := d.ok(t, "top", ref)
		if done(top) || time.Now().After(deadline) {
			return top
		}
		time.Sleep(50 * time.Millisecond)
	}
}
