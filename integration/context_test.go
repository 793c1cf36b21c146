package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliEnv runs the built plugdbg with the variables that choose a daemon
// (PLUGDBG_*) removed from the environment, PLUGDBG_CONFIG set to config
// (so that the user's own contexts are never read or written), and env
// added.
func cliEnv(t *testing.T, config string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLUGDBG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PLUGDBG_CONFIG="+config)
	cmd.Env = append(cmd.Env, env...)
	return runCommand(t, cmd)
}

// TestContextReachesTheDaemon: a context naming the test daemon's socket
// takes the commands there, chosen by --context, by PLUGDBG_CONTEXT and by
// plugdbg context use.
func TestContextReachesTheDaemon(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "ctxvol", "volume")
	config := t.TempDir()
	run := func(env []string, args ...string) string {
		t.Helper()
		out, errOut, code := cliEnv(t, config, env, args...)
		require.Equal(t, 0, code, "plugdbg %v (env %v): %s", args, env, errOut)
		return out
	}
	run(nil, "context", "create", "testd", "--host", d.host, "--description", "the test daemon")
	// A context whose daemon is not there: what a command that followed
	// the wrong context would report.
	nowhere := "unix://" + filepath.Join(d.dir, "nowhere.sock")
	run(nil, "context", "create", "nowhere", "--host", nowhere)

	assert.Contains(t, run(nil, "--context", "testd", "ls"), "ctxvol")
	assert.Contains(t, run([]string{"PLUGDBG_CONTEXT=testd"}, "ls"), "ctxvol")

	run(nil, "context", "use", "testd")
	assert.Contains(t, run(nil, "ls"), "ctxvol")
	assert.Equal(t, "testd\n", run(nil, "context", "show"))

	// The current context is followed, not the default socket.
	run(nil, "context", "use", "nowhere")
	_, errOut, code := cliEnv(t, config, nil, "ls")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, nowhere)
	// PLUGDBG_HOST beats it; --context beats PLUGDBG_HOST.
	assert.Contains(t, run([]string{"PLUGDBG_HOST=" + d.host}, "ls"), "ctxvol")
	_, errOut, code = cliEnv(t, config, []string{"PLUGDBG_HOST=" + d.host}, "--context", "nowhere", "ls")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, nowhere)

	ls := run(nil, "context", "ls")
	assert.Contains(t, ls, "nowhere *")
	assert.Regexp(t, `(?m)^testd +the test daemon +`+regexp.QuoteMeta(d.host)+`$`, ls)
}
