// Package usage answers "why is this plugin in use?": what holds a plugin
// that dockerd or another client uses. For dockerd's managed plugins the
// holders come from the Docker API (volumes and networks whose driver the
// plugin is); for plugdbg's own plugins they come from the calls a trace
// saw (a Tracker): mounts not unmounted, volumes, networks, endpoints and
// IPAM pools created and not removed.
package usage

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
)

// recentCalls is how many calls a Tracker keeps for bug reports.
const recentCalls = 100

// Tracker follows a plugin's traced calls and keeps what they left held.
// It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	since   time.Time
	held    map[string]types.Holder // by kind + "\x00" + key
	recent  []types.TraceRecord
	started bool
}

// Started notes that a trace began; holders are only known from then on.
func (t *Tracker) Started(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.started, t.since = true, now
	}
}

// Record takes one traced call. Failed calls (status other than 200, or an
// Err) change nothing held.
func (t *Tracker) Record(r types.TraceRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.started, t.since = true, r.Time
	}
	t.recent = append(t.recent, r)
	if len(t.recent) > recentCalls {
		t.recent = slices.Clone(t.recent[len(t.recent)-recentCalls:])
	}
	if r.Status != 200 || r.Err != "" || r.Method == "" {
		return
	}
	var req, resp map[string]any
	_ = json.Unmarshal([]byte(r.Request), &req)
	_ = json.Unmarshal([]byte(r.Response), &resp)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if t.held == nil {
		t.held = map[string]types.Holder{}
	}
	at := r.Time
	add := func(kind, key string, h types.Holder) {
		h.Kind, h.Since = kind, &at
		if _, ok := t.held[kind+"\x00"+key]; !ok {
			t.held[kind+"\x00"+key] = h
		}
	}
	del := func(kind, key string) { delete(t.held, kind+"\x00"+key) }
	switch r.Method {
	case "VolumeDriver.Create":
		add(types.KindVolume, str(req, "Name"), types.Holder{Name: str(req, "Name")})
	case "VolumeDriver.Remove":
		del(types.KindVolume, str(req, "Name"))
	case "VolumeDriver.Mount":
		name, id := str(req, "Name"), str(req, "ID")
		add(types.KindMount, name+"\x00"+id, types.Holder{Name: name, ID: id, Detail: "at " + str(resp, "Mountpoint")})
	case "VolumeDriver.Unmount":
		del(types.KindMount, str(req, "Name")+"\x00"+str(req, "ID"))
	case "NetworkDriver.CreateNetwork":
		add(types.KindNetwork, str(req, "NetworkID"), types.Holder{ID: str(req, "NetworkID")})
	case "NetworkDriver.DeleteNetwork":
		del(types.KindNetwork, str(req, "NetworkID"))
	case "NetworkDriver.CreateEndpoint":
		add(types.KindEndpoint, str(req, "EndpointID"), types.Holder{ID: str(req, "EndpointID"), Detail: "network " + str(req, "NetworkID")})
	case "NetworkDriver.DeleteEndpoint":
		del(types.KindEndpoint, str(req, "EndpointID"))
	case "IpamDriver.RequestPool":
		add(types.KindPool, str(resp, "PoolID"), types.Holder{ID: str(resp, "PoolID"), Detail: str(resp, "Pool")})
	case "IpamDriver.ReleasePool":
		del(types.KindPool, str(req, "PoolID"))
	}
}

// Snapshot fills u's trace fields: whether a trace ran, what is held (by
// kind, then time), and with calls the recent calls.
func (t *Tracker) Snapshot(u *types.Usage, calls bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u.Source = "trace"
	u.Traced = t.started
	if t.started {
		since := t.since
		u.TracedSince = &since
	}
	u.Holders = []types.Holder{}
	for _, h := range t.held {
		u.Holders = append(u.Holders, h)
	}
	slices.SortFunc(u.Holders, func(a, b types.Holder) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := a.Since.Compare(*b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Name+a.ID, b.Name+b.ID)
	})
	if calls {
		u.Calls = slices.Clone(t.recent)
	}
}
