package types

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
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
	Calls []TraceRecord `json:"Calls,omitempty"`
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
