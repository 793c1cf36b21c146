package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogsPerPluginRotation: --log-opt on create and set gives one plugin
// its own rotation, beside another on the daemon's defaults; set changes
// it while the plugin runs; it survives a daemon restart; a bad value is
// refused and changes nothing.
func TestLogsPerPluginRotation(t *testing.T) {
	d := startDaemon(t)
	_, stderr, code := d.cli(t, "create", "--log-opt", "max-size=4k", "--log-opt", "max-file=2", "small", pluginDir("echo"))
	require.Equal(t, 0, code, stderr)
	other := d.create(t, "other", "echo")
	small := d.inspect(t, "small")
	assert.Equal(t, map[string]string{"max-size": "4k", "max-file": "2"}, small.LogConfig.Config)
	assert.Equal(t, map[string]string{"max-size": "10m", "max-file": "5"}, other.LogConfig.Config, "the daemon's defaults")

	files := func(id string) []string {
		t.Helper()
		paths, err := filepath.Glob(d.logPath(id) + "*")
		require.NoError(t, err)
		var names []string
		for _, p := range paths {
			if !strings.HasSuffix(p, ".new") { // a rotation under way
				names = append(names, filepath.Base(p))
			}
		}
		return names
	}
	// lastSeq is the seq of the newest record in id's current log file
	// (0: none yet): a batch is written whole into the current file, after
	// a rotation if there is one.
	lastSeq := func(id string) uint64 {
		t.Helper()
		data, err := os.ReadFile(d.logPath(id))
		if errors.Is(err, fs.ErrNotExist) { // between the two renames of a rotation
			return 0
		}
		require.NoError(t, err)
		records := strings.Split(strings.TrimSpace(string(data)), "\n")
		var last struct{ Seq uint64 }
		_ = json.Unmarshal([]byte(records[len(records)-1]), &last)
		return last.Seq
	}
	// Each 3,000-byte line is a record of over 3 KiB: one per file at 4k.
	// The monitor writes what it has read at once as one batch, and a
	// batch is never split between files: each line is written only once
	// the one before it is stored, as its own batch.
	line := strings.Repeat("x", 3000) + "\n"
	write := func(ref string, n int) {
		t.Helper()
		p := d.inspect(t, ref)
		for range n {
			before := lastSeq(p.ID)
			echoWrite(t, p.State.Socket, "stdout", line)
			eventually(t, func() bool { return lastSeq(p.ID) > before }, waitTimeout, "the line after seq %d stored", before)
		}
	}
	d.enable(t, "small")
	d.enable(t, "other")
	write("small", 4)
	write("other", 4)
	eventually(t, func() bool { return len(d.apiLogs(t, "other", nil)) == 4 }, waitTimeout, "other's lines stored")
	eventuallyShow(t, func() bool {
		return assert.ObjectsAreEqual([]string{"plugin.log", "plugin.log.1"}, files(small.ID))
	}, waitTimeout, func() string {
		return fmt.Sprintf("small keeps 2 files; has %v, state %+v", files(small.ID), d.inspect(t, "small").State)
	})
	assert.Equal(t, []string{"plugin.log"}, files(other.ID))

	// Changed while it runs: the monitor takes the new limits within
	// moments (they travel on its control connection, apart from the
	// plugin's output), and keeps 4 files from then on.
	_, stderr, code = d.cli(t, "set", "--log-opt", "max-file=4", "small")
	require.Equal(t, 0, code, stderr)
	writes := 0
	eventuallyShow(t, func() bool {
		write("small", 1)
		writes++
		return len(files(small.ID)) == 4
	}, waitTimeout, func() string {
		return fmt.Sprintf("small keeps 4 files; has %v, state %+v", files(small.ID), d.inspect(t, "small").State)
	})
	t.Logf("4 files after %d writes (2 are needed once the new limit applies)", writes)
	write("small", 3)
	// Never more than 4 files (a rotation's fresh file, plugin.log.new,
	// aside).
	eventuallyShow(t, func() bool {
		return assert.ObjectsAreEqual([]string{"plugin.log", "plugin.log.1", "plugin.log.2", "plugin.log.3"}, files(small.ID))
	}, waitTimeout, func() string {
		return fmt.Sprintf("small keeps 4 files; has %v, state %+v", files(small.ID), d.inspect(t, "small").State)
	})
	assert.Equal(t, "4", d.inspect(t, "small").LogConfig.Config["max-file"])

	// Refused: nothing changes.
	_, stderr, code = d.cli(t, "set", "--log-opt", "max-size=lots", "small")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `invalid log opt max-size="lots"`)
	_, stderr, code = d.cli(t, "set", "--log-opt", "max-files=3", "small")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `unknown log opt "max-files"`)
	_, stderr, code = d.cli(t, "create", "--log-opt", "max-size=0", "bad", pluginDir("echo"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `invalid log opt max-size="0"`)
	_, _, code = d.cli(t, "inspect", "bad")
	assert.Equal(t, 1, code, "a create with a bad log opt creates nothing")

	// Kept across a daemon restart, and used by the next run.
	d.restart()
	assert.Equal(t, map[string]string{"max-size": "4k", "max-file": "4"}, d.inspect(t, "small").LogConfig.Config)
	_, stderr, code = d.cli(t, "set", "--log-opt", "max-file=", "small")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "5", d.inspect(t, "small").LogConfig.Config["max-file"], "an empty value restores the default")
	stored, err := os.ReadFile(filepath.Join(d.storeDir(small.ID), "plugdbg-opts.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"LogOpts":{"max-size":"4k"}}`, string(stored))
}
