package integration

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tunnels counts the tunnels to plugin id's socket the daemon has opened
// and closed so far (its debug lines "connect: tunnel to … open|closed").
func tunnels(d *daemon, id string) (opened, closed int) {
	log := d.daemonLog()
	return len(logLines(log, "connect: tunnel to ", " open", "plugin="+id)), len(logLines(log, "connect: tunnel to ", " closed", "plugin="+id))
}

// TestProbeThroughTunnel: to a CLI that reaches the daemon over tcp, the
// daemon is remote and its plugins' socket paths are not the CLI's to
// dial: probe, probe --repeat, check and bundle reach the plugin through
// tunnels the daemon opens (POST /plugins/{id}/connect), as they would
// over ssh:// (the loopback listener stands in for a remote host; the
// CLI's choice depends only on the host's scheme). Each tunnel is closed
// once the CLI is gone, and a CLI on the daemon's unix socket still dials
// the path itself.
func TestProbeThroughTunnel(t *testing.T) {
	d := startDaemonWith(t, "--ui-addr", "", "--log-level", "debug", "-H", "tcp://127.0.0.1:0")
	host := tcpListener(t, d, "plain HTTP, loopback only")
	id := d.create(t, "vol", "volume").ID
	sock := d.enable(t, "vol").State.Socket
	d.create(t, "off", "volume")

	// after waits until the daemon has opened a tunnel for the CLI that
	// just ran and closed every tunnel it opened (the CLI is gone), and
	// returns how many it opened since the last call.
	seen := 0
	after := func(t *testing.T) int {
		t.Helper()
		var opened, closed int
		eventuallyShow(t, func() bool {
			opened, closed = tunnels(d, id)
			return opened > seen && opened == closed
		}, 30*time.Second, func() string {
			return fmt.Sprintf("%d tunnels opened (%d before the CLI ran), %d closed; daemon log:\n%s", opened, seen, closed, tail(d.daemonLog(), 40))
		})
		n := opened - seen
		seen = opened
		return n
	}

	t.Run("probe", func(t *testing.T) {
		stdout, stderr, code := cli(t, host, "probe", "vol", "VolumeDriver.Create", "Name=v1", "Opts.size=1G")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Equal(t, "{}\n", stdout)
		assert.Empty(t, stderr)
		assert.Equal(t, 1, after(t), "one call, one tunnel")

		stdout, stderr, code = cli(t, host, "probe", "-v", "vol", "VolumeDriver.Get", `{"Name":"v1"}`)
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, `"Name": "v1"`, "the request body reached the plugin, which knows the volume created before")
		assert.Contains(t, stderr, "* unix://"+sock+" via "+host+"\n")
		assert.Contains(t, stderr, "< HTTP/1.1 200 OK")
		assert.Equal(t, 1, after(t))
	})

	t.Run("probe --repeat", func(t *testing.T) {
		stdout, stderr, code := cli(t, host, "probe", "vol", "VolumeDriver.List", "--repeat", "50", "--concurrency", "4")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stdout, "VolumeDriver.List: 50 calls in ")
		assert.Contains(t, stdout, "0 failed\n")
		n := after(t)
		t.Logf("50 calls, 4 at a time, over %d tunnels", n)
		assert.GreaterOrEqual(t, n, 1)
		assert.Less(t, n, 50, "the workers keep their tunnels alive between calls")
	})

	t.Run("check", func(t *testing.T) {
		stdout, stderr, code := cli(t, host, "check", "vol")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Regexp(t, `\n\d+ passed, 0 failed, 0 warnings, \d+ skipped\n$`, stdout)
		assert.Positive(t, after(t))

		stdout, _, code = cli(t, host, "check", "--json", "vol")
		require.Equal(t, 0, code)
		var rep struct{ Target string }
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, "unix://"+sock+" via "+host, rep.Target)
		after(t)
	})

	t.Run("bundle", func(t *testing.T) {
		files := bundleFiles(t, &daemon{host: host}, "vol")
		require.Contains(t, files, "check.json", "errors.txt:\n%s", files["errors.txt"])
		assert.Contains(t, files["check.json"], `"Target": "unix://`+sock+` via `+host+`"`)
		assert.NotContains(t, files["errors.txt"], "check:")
		assert.Positive(t, after(t))
	})

	t.Run("errors", func(t *testing.T) {
		_, stderr, code := cli(t, host, "probe", "off", "VolumeDriver.List")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "plugin off:latest is not enabled")
		_, stderr, code = cli(t, host, "probe", "nosuch", "VolumeDriver.List")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "nosuch")
	})

	t.Run("a local daemon's plugin is dialled directly", func(t *testing.T) {
		stdout, stderr, code := d.cli(t, "probe", "-v", "vol", "VolumeDriver.List")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		assert.Contains(t, stderr, "* unix://"+sock+"\n")
		stdout, stderr, code = d.cli(t, "check", "--json", "vol")
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		var rep struct{ Target string }
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, "unix://"+sock, rep.Target)
	})
}
