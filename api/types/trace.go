package types

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TraceRecord is one call seen by the proxy, or, with Tracing set, the first
// line of a trace stream, which says that the proxy is in place.
type TraceRecord struct {
	Time     time.Time     `json:"Time"`   // when the request had fully arrived
	Conn     int           `json:"Conn"`   // client connection number, from 1
	Method   string        `json:"Method"` // "VolumeDriver.List"
	Request  string        `json:"Request,omitempty"`
	Status   int           `json:"Status"` // 0 when the plugin answered nothing
	Response string        `json:"Response,omitempty"`
	Err      string        `json:"Err,omitempty"` // the answer's Err (or Error), or what went wrong
	Latency  time.Duration `json:"Latency"`       // request fully in to answer fully out
	// Tracing is the socket path (on the daemon's host) the proxy now
	// listens on, set only on a stream's first line: it is no call, and
	// every connection opened at that path from then on is recorded.
	Tracing string `json:"Tracing,omitempty"`
}

// String is the record as one readable line: time, connection, method,
// status, latency, the request and the answer (compacted JSON), and Err.
func (r TraceRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s", r.Time.Format("15:04:05.000000"), r.Conn, r.Method)
	if r.Status != 0 {
		fmt.Fprintf(&b, " %d", r.Status)
	}
	fmt.Fprintf(&b, " %s %s -> %s", r.Latency.Round(time.Microsecond), compact(r.Request), compact(r.Response))
	if r.Err != "" {
		fmt.Fprintf(&b, " Err=%q", r.Err)
	}
	return b.String()
}

func compact(s string) string {
	if s == "" {
		return "(empty)"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(s)) == nil {
		return buf.String()
	}
	return fmt.Sprintf("%q", s)
}
