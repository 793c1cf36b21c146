package container

import (
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	line := "4242 (a (b) c) S 4200 4242 4242 34816 4242 4194560 113 0 0 0 0 0 0 0 20 0 1 0 98765 2527232 181 18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	p, err := parseProcStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, procInfo{comm: "a (b) c", state: 'S', ppid: 4200, pgrp: 4242, session: 4242, flags: 4194560, start: 98765}, p)

	for _, bad := range []string{"", "1 (x S 1 1 1", "1 (x) S 1 1", "1 (x) S one 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"} {
		_, err := parseProcStat([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}

	self, err := readProcInfo(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getppid(), self.ppid)
	assert.NotZero(t, self.start)
}

func TestGroupOf(t *testing.T) {
	const leader = 100
	procs := map[int]procInfo{
		1:      {ppid: 0, pgrp: 1, session: 1, state: 'S'},                // the plugin
		2:      {ppid: 1, pgrp: 1, session: 1, state: 'S'},                // its own child
		leader: {ppid: 50, pgrp: leader, session: leader, state: 'S'},     // the exec's shell
		101:    {ppid: leader, pgrp: leader, session: leader, state: 'S'}, // sleep
		102:    {ppid: leader, pgrp: 102, session: leader, state: 'T'},    // a stopped job
		103:    {ppid: 102, pgrp: 103, session: 103, state: 'S'},          // a job's child in a session of its own
		104:    {ppid: 103, pgrp: 103, session: 103, state: 'S'},          // and its child
		105:    {ppid: leader, pgrp: leader, session: leader, state: 'Z'}, // exited, not yet reaped
		106:    {ppid: 1, pgrp: leader, session: leader, state: 'S'},      // orphan of the session, reparented to init
		200:    {ppid: 1, pgrp: 200, session: 200, state: 'S'},            // another exec
	}
	got := groupOf(leader, procs)
	sort.Ints(got)
	assert.Equal(t, []int{leader, 101, 102, 103, 104, 106}, got)

	delete(procs, leader) // the shell has exited and been reaped
	got = groupOf(leader, procs)
	sort.Ints(got)
	assert.Equal(t, []int{101, 102, 103, 104, 106}, got, "the session outlives its leader")
}
