// Package usage answers "why is this plugin in use?": what holds a plugin
// that dockerd or another client uses. For dockerd's managed plugins the
// holders come from the Docker API (volumes and networks whose driver the
// plugin is); for plugdbg's own plugins they come from the calls a trace
// saw (a Tracker): mounts not unmounted, volumes, networks, endpoints and
// IPAM pools created and not removed.
package usage

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// Holder kinds.
const (
	KindMount    = "mount"    // VolumeDriver.Mount without its Unmount
	KindVolume   = "volume"   // a volume of the driver
	KindNetwork  = "network"  // a network of the driver
	KindEndpoint = "endpoint" // a network endpoint
	KindPool     = "pool"     // an IPAM pool
	KindIPAM     = "ipam"     // a network whose IPAM driver the plugin is
)

// Holder is one thing that uses the plugin.
type Holder struct {
	Kind   string     `json:"Kind"`
	Name   string     `json:"Name"`
	ID     string     `json:"ID,omitempty"`
	Since  *time.Time `json:"Since,omitempty"`
	Detail string     `json:"Detail,omitempty"`
}

// Usage is what holds one plugin.
type Usage struct {
	Plugin string `json:"Plugin"` // ID
	Name   string `json:"Name"`
	// Source says where the holders come from: "docker-api" or "trace".
	Source string `json:"Source"`
	// Traced, for Source "trace": whether any trace has run on the plugin
	// since the daemon started (holders cannot be known otherwise), and
	// since when.
	Traced      bool       `json:"Traced"`
	TracedSince *time.Time `json:"TracedSince,omitempty"`
	Holders     []Holder   `json:"Holders"`
	// Note says what the holders cannot show.
	Note string `json:"Note,omitempty"`
	// Calls are the trace's most recent calls, oldest first, when asked for.
	Calls []tracer.Record `json:"Calls,omitempty"`
}

// recentCalls is how many calls a Tracker keeps for bug reports.
const recentCalls = 100

// Tracker follows a plugin's traced calls and keeps what they left held.
// It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	since   time.Time
	held    map[string]Holder // by kind + "\x00" + key
	recent  []tracer.Record
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
func (t *Tracker) Record(r tracer.Record) {
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
		t.held = map[string]Holder{}
	}
	at := r.Time
	add := func(kind, key string, h Holder) {
		h.Kind, h.Since = kind, &at
		if _, ok := t.held[kind+"\x00"+key]; !ok {
			t.held[kind+"\x00"+key] = h
		}
	}
	del := func(kind, key string) { delete(t.held, kind+"\x00"+key) }
	switch r.Method {
	case "VolumeDriver.Create":
		add(KindVolume, str(req, "Name"), Holder{Name: str(req, "Name")})
	case "VolumeDriver.Remove":
		del(KindVolume, str(req, "Name"))
	case "VolumeDriver.Mount":
		name, id := str(req, "Name"), str(req, "ID")
		add(KindMount, name+"\x00"+id, Holder{Name: name, ID: id, Detail: "at " + str(resp, "Mountpoint")})
	case "VolumeDriver.Unmount":
		del(KindMount, str(req, "Name")+"\x00"+str(req, "ID"))
	case "NetworkDriver.CreateNetwork":
		add(KindNetwork, str(req, "NetworkID"), Holder{ID: str(req, "NetworkID")})
	case "NetworkDriver.DeleteNetwork":
		del(KindNetwork, str(req, "NetworkID"))
	case "NetworkDriver.CreateEndpoint":
		add(KindEndpoint, str(req, "EndpointID"), Holder{ID: str(req, "EndpointID"), Detail: "network " + str(req, "NetworkID")})
	case "NetworkDriver.DeleteEndpoint":
		del(KindEndpoint, str(req, "EndpointID"))
	case "IpamDriver.RequestPool":
		add(KindPool, str(resp, "PoolID"), Holder{ID: str(resp, "PoolID"), Detail: str(resp, "Pool")})
	case "IpamDriver.ReleasePool":
		del(KindPool, str(req, "PoolID"))
	}
}

// Snapshot fills u's trace fields: whether a trace ran, what is held (by
// kind, then time), and with calls the recent calls.
func (t *Tracker) Snapshot(u *Usage, calls bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u.Source = "trace"
	u.Traced = t.started
	if t.started {
		since := t.since
		u.TracedSince = &since
	}
	u.Holders = []Holder{}
	for _, h := range t.held {
		u.Holders = append(u.Holders, h)
	}
	slices.SortFunc(u.Holders, func(a, b Holder) int {
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

// Format writes u for people: a heading, the note, then one holder a line.
func (u Usage) Format(w io.Writer) error {
	id := u.Plugin
	if len(id) > 12 {
		id = id[:12]
	}
	fmt.Fprintf(w, "%s (%s): ", u.Name, id)
	switch {
	case u.Source == "trace" && !u.Traced:
		fmt.Fprintln(w, "unknown")
	case len(u.Holders) == 0:
		fmt.Fprintln(w, "nothing holds it")
	default:
		fmt.Fprintf(w, "%d holder(s)\n", len(u.Holders))
	}
	if u.TracedSince != nil {
		fmt.Fprintf(w, "from traces since %s\n", u.TracedSince.UTC().Format(time.RFC3339))
	}
	if u.Note != "" {
		fmt.Fprintln(w, "note:", u.Note)
	}
	if len(u.Holders) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tID\tSINCE\tDETAIL")
	for _, h := range u.Holders {
		since := ""
		if h.Since != nil {
			since = h.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Kind, h.Name, h.ID, since, h.Detail)
	}
	return tw.Flush()
}
