package api

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestParsePS(t *testing.T) {
	out := "" +
		"  PID USER     LWP CMD\n" +
		"   10 root      10 /pdvol --debug  x\n" +
		"    - -         11 -\n" +
		"   12 root      12 other process\n" +
		"   13 1000      13 sh\n" +
		"   14 daemon    14 sh -c sleep 1\n"
	got, err := parsePS([]byte(out), map[int]string{10: "0", 13: "1000", 14: "nobody"})
	require.NoError(t, err)
	assert.Equal(t, []string{"PID", "USER", "LWP", "CMD"}, got.Titles)
	assert.Equal(t, [][]string{
		{"10", "0", "10", "/pdvol --debug x"}, // the plugin's user, not the host's name
		{"-", "0", "11", "-"},                 // its thread
		{"13", "1000", "13", "sh"},            // a number stays
		{"14", "nobody", "14", "sh -c sleep 1"},
	}, got.Processes)

	_, err = parsePS([]byte("USER CMD\nroot x\n"), map[int]string{1: "0"})
	assert.ErrorContains(t, err, "without a PID column")
}

func TestCheckPSArgs(t *testing.T) {
	for _, ok := range [][]string{{"-o", "pid,user,comm"}, {"aux"}, {"-o", "pid=PID,comm"}} {
		assert.NoError(t, checkPSArgs(ok), "%q", ok)
	}
	for _, bad := range [][]string{{"-o", "pid,user=PID"}, {"-o", "comm=PIDX"}, {string(make([]byte, maxPSArgs+1))}} {
		assert.Error(t, checkPSArgs(bad), "%q", bad)
	}
}

// TestPSTop runs the host's ps on this test's own process, as the plugin's
// only one.
func TestPSTop(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	pid := strconv.Itoa(os.Getpid())
	base := types.Top{Titles: []string{"PID", "USER", "TIME", "CMD"}, Processes: [][]string{{pid, "plugin-user", "00:00:00", "x"}}}
	for _, args := range [][]string{{"-o", "pid,user,comm"}, {"-ef"}} {
		top, err := psTop(context.Background(), base, args)
		if err != nil && os.IsNotExist(err) {
			t.Skip("no ps")
		}
		require.NoError(t, err, "%q", args)
		require.Len(t, top.Processes, 1, "%q: %v", args, top)
		assert.Contains(t, top.Processes[0], pid)
		assert.Contains(t, top.Processes[0], "plugin-user", "the user column")
	}
	_, err := psTop(context.Background(), base, []string{"--no-such-option"})
	assert.Error(t, err)
}
