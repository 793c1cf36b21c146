package logs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

// TestFromHistory: the lines a monitor could not keep are routed from the
// log file as live lines are, to the daemon log and the followers; lines
// the file does not have either make the followers lag.
func TestFromHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.log")
	var file []byte
	for seq := uint64(1); seq <= 5; seq++ {
		file = append(logs.Entry{Seq: seq, Time: int64(seq), Stream: logs.Stdout, Line: fmt.Sprint("line ", seq)}.AppendJSON(file), '\n')
	}
	require.NoError(t, os.WriteFile(path, file, 0o600))
	l := logs.NewDaemonLogger()
	var daemonLog bytes.Buffer
	l.SetOutput(&daemonLog)

	var hub logs.Hub
	sub := hub.Subscribe(pluginID, 1<<20)
	found, err := hub.FromHistory(l, pluginID, path, logs.NewJoiner(1<<20), 1, 3)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), found)
	batches, _ := sub.Take(nil)
	require.Len(t, batches, 1)
	var seqs []uint64
	for _, e := range batches[0].Entries {
		seqs = append(seqs, e.Seq)
	}
	assert.Equal(t, []uint64{2, 3, 4}, seqs)
	assert.Equal(t, uint64(4), hub.LastSeq(pluginID))
	assert.False(t, sub.Lagged())
	assert.Equal(t, 3, strings.Count(daemonLog.String(), "plugin="+pluginID))
	assert.Contains(t, daemonLog.String(), `msg="line 4"`)
	assert.NotContains(t, daemonLog.String(), `msg="line 5"`)

	found, err = hub.FromHistory(l, pluginID, path, logs.NewJoiner(1<<20), 4, 10)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), found, "only line 5 is there")
	assert.True(t, sub.Lagged(), "followers learn of the lines that are nowhere")
}
