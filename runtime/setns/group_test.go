package setns

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGroupOf(t *testing.T) {
	const leader = 100
	procs := map[int]ProcInfo{
		1:      {Ppid: 0, Pgrp: 1, Session: 1, State: 'S'},                // the plugin
		2:      {Ppid: 1, Pgrp: 1, Session: 1, State: 'S'},                // its own child
		leader: {Ppid: 50, Pgrp: leader, Session: leader, State: 'S'},     // the exec's shell
		101:    {Ppid: leader, Pgrp: leader, Session: leader, State: 'S'}, // sleep
		102:    {Ppid: leader, Pgrp: 102, Session: leader, State: 'T'},    // a stopped job
		103:    {Ppid: 102, Pgrp: 103, Session: 103, State: 'S'},          // a job's child in a session of its own
		104:    {Ppid: 103, Pgrp: 103, Session: 103, State: 'S'},          // and its child
		105:    {Ppid: leader, Pgrp: leader, Session: leader, State: 'Z'}, // exited, not yet reaped
		106:    {Ppid: 1, Pgrp: leader, Session: leader, State: 'S'},      // orphan of the session, reparented to init
		200:    {Ppid: 1, Pgrp: 200, Session: 200, State: 'S'},            // another exec
	}
	got := GroupOf(leader, procs)
	sort.Ints(got)
	assert.Equal(t, []int{leader, 101, 102, 103, 104, 106}, got)

	delete(procs, leader) // the shell has exited and been reaped
	got = GroupOf(leader, procs)
	sort.Ints(got)
	assert.Equal(t, []int{101, 102, 103, 104, 106}, got, "the session outlives its leader")
}
