package usage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestTracker(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	call := func(i int, method, req, resp string, status int, errText string) types.TraceRecord {
		return types.TraceRecord{Time: t0.Add(time.Duration(i) * time.Second), Method: method, Request: req, Response: resp, Status: status, Err: errText}
	}
	var tr Tracker
	var u types.Usage
	tr.Snapshot(&u, false)
	assert.False(t, u.Traced, "no trace ran")
	assert.Empty(t, u.Holders)

	for _, r := range []types.TraceRecord{
		call(1, "VolumeDriver.Create", `{"Name":"v1"}`, `{}`, 200, ""),
		call(2, "VolumeDriver.Mount", `{"Name":"v1","ID":"c1"}`, `{"Mountpoint":"/data/v1"}`, 200, ""),
		call(3, "VolumeDriver.Mount", `{"Name":"v1","ID":"c2"}`, `{"Mountpoint":"/data/v1"}`, 200, ""),
		call(4, "VolumeDriver.Unmount", `{"Name":"v1","ID":"c1"}`, `{}`, 200, ""),
		call(5, "VolumeDriver.Mount", `{"Name":"v2","ID":"c3"}`, `{"Err":"no such volume"}`, 200, "no such volume"),
		call(6, "VolumeDriver.Create", `{"Name":"v3"}`, `{}`, 200, ""),
		call(7, "VolumeDriver.Remove", `{"Name":"v3"}`, `{}`, 200, ""),
		call(8, "IpamDriver.RequestPool", `{"AddressSpace":"local"}`, `{"PoolID":"p1","Pool":"10.9.0.0/24"}`, 200, ""),
		call(9, "NetworkDriver.CreateNetwork", `{"NetworkID":"n1"}`, `{}`, 200, ""),
		call(10, "NetworkDriver.CreateEndpoint", `{"NetworkID":"n1","EndpointID":"e1"}`, `{}`, 200, ""),
		call(11, "NetworkDriver.DeleteEndpoint", `{"NetworkID":"n1","EndpointID":"e1"}`, `{}`, 200, ""),
		call(12, "VolumeDriver.Mount", `{"Name":"v9","ID":"c9"}`, ``, 0, "plugin closed the connection"),
	} {
		tr.Record(r)
	}
	tr.Snapshot(&u, true)
	require.True(t, u.Traced)
	assert.Equal(t, t0.Add(time.Second), *u.TracedSince)
	var got []string
	for _, h := range u.Holders {
		got = append(got, h.Kind+" "+h.Name+" "+h.ID)
	}
	assert.Equal(t, []string{"mount v1 c2", "network  n1", "pool  p1", "volume v1 "}, got)
	assert.Len(t, u.Calls, 12)

	for i := range 2 * recentCalls {
		tr.Record(call(100+i, "VolumeDriver.List", "", `{"Volumes":[]}`, 200, ""))
	}
	tr.Snapshot(&u, true)
	assert.Len(t, u.Calls, recentCalls, "only the most recent calls are kept")
	assert.Len(t, u.Holders, 4)
}
