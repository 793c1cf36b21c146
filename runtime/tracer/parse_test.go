package tracer

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

// records is an emit that keeps what it is given.
type records struct {
	mu   sync.Mutex
	recs []types.TraceRecord
}

func (r *records) emit(rec types.TraceRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

// counts is a Counter by method name.
type counts struct {
	mu       sync.Mutex
	calls    map[string][]int // method -> statuses
	unparsed int
}

func (c *counts) Method(target []byte) any { return string(target) }
func (c *counts) Count(m any, status int, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string][]int{}
	}
	c.calls[m.(string)] = append(c.calls[m.(string)], status)
}
func (c *counts) Unparsed() { c.unparsed++ }

const (
	listReq  = "POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}"
	listResp = "HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{\"Volumes\":[],\"Err\":\"\"}"
)

// TestRecords: what a call's record holds, as the trace recorded it with
// net/http before: the method from the target's path, the bodies without
// their chunked coding and cut at 64 KiB, the status, the answer's Err (or
// Error) whatever the status, and why an answer is missing or cut short.
// Each step is fed in its own read, the connection's end last.
func TestRecords(t *testing.T) {
	big := strings.Repeat("x", maxBody+10)
	tests := []struct {
		name   string
		steps  []string // "> " bytes from the client, "< " bytes to it
		want   []types.TraceRecord
		counts map[string][]int
	}{
		{
			name:  "keep-alive",
			steps: []string{"> " + listReq, "< " + listResp, "> " + listReq, "< " + listResp},
			want: []types.TraceRecord{
				{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Volumes":[],"Err":""}`},
				{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Volumes":[],"Err":""}`},
			},
		},
		{
			name: "chunked, Err on a 500",
			steps: []string{
				"> POST /VolumeDriver.Get HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Nam\r\n",
				"> 7\r\ne\":\"a\"}\r\n0\r\n\r\n",
				"< HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"Err\":\"b\r\n",
				"< 4\r\noom\"\r\n1\r\n}\r\n0\r\nX-Trailer: 1\r\n\r\n",
			},
			want:   []types.TraceRecord{{Method: "VolumeDriver.Get", Request: `{"Name":"a"}`, Status: 500, Response: `{"Err":"boom"}`, Err: "boom"}},
			counts: map[string][]int{"/VolumeDriver.Get": {500}},
		},
		{
			name:   "IPAM's Error on a 200",
			steps:  []string{"> POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n", "< HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{\"Error\":\"no pool\"}"},
			want:   []types.TraceRecord{{Method: "IpamDriver.RequestPool", Status: 200, Response: `{"Error":"no pool"}`, Err: "no pool"}},
			counts: map[string][]int{"/IpamDriver.RequestPool": {StatusErr}},
		},
		{
			name:  "absolute target, escaped path, query",
			steps: []string{"> POST http://plugin/A%20b?x=1 HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n", "< HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"},
			want:  []types.TraceRecord{{Method: "A b", Status: 404}},
		},
		{
			name:  "bodies over 64 KiB",
			steps: []string{fmt.Sprintf("> POST /Big HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s", len(big), big), fmt.Sprintf("< HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{\"Err\":\"%s\"}", len(big)+10, big)},
			want: []types.TraceRecord{{
				Method: "Big", Request: big[:maxBody] + "…(10 more bytes)",
				Status: 200, Response: `{"Err":"` + big[:maxBody-8] + "…(20 more bytes)",
			}},
			counts: map[string][]int{"/Big": {200}},
		},
		{
			name:  "HEAD, interim 100",
			steps: []string{"> HEAD /H HTTP/1.1\r\nHost: p\r\n\r\n", "< HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "> " + listReq, "< HTTP/1.1 100 Continue\r\n\r\n", "< " + listResp},
			want: []types.TraceRecord{
				{Method: "H", Status: 200},
				{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Volumes":[],"Err":""}`},
			},
		},
		{
			name:   "no answer",
			steps:  []string{"> " + listReq, "< "},
			want:   []types.TraceRecord{{Method: "VolumeDriver.List", Request: "{}", Err: "no answer: EOF"}},
			counts: map[string][]int{"/VolumeDriver.List": {StatusNone}},
		},
		{
			name:  "answer cut in its headers",
			steps: []string{"> " + listReq, "< HTTP/1.1 200 OK\r\nContent-Le", "< "},
			want:  []types.TraceRecord{{Method: "VolumeDriver.List", Request: "{}", Err: "no answer: unexpected EOF"}},
		},
		{
			name:   "answer cut in its body",
			steps:  []string{"> " + listReq, "< HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{\"Volumes\"", "< "},
			want:   []types.TraceRecord{{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Volumes"`, Err: "answer cut short: unexpected EOF"}},
			counts: map[string][]int{"/VolumeDriver.List": {StatusNone}},
		},
		{
			name:  "answer ends with the connection",
			steps: []string{"> " + listReq, "< HTTP/1.1 200 OK\r\n\r\n{\"Err\":\"late\"}", "< "},
			want:  []types.TraceRecord{{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Err":"late"}`, Err: "late"}},
		},
		{
			name:  "pipelined, the second left unanswered",
			steps: []string{"> " + listReq + strings.Replace(listReq, "List", "Get", 1), "< " + listResp, "< "},
			want: []types.TraceRecord{
				{Method: "VolumeDriver.List", Request: "{}", Status: 200, Response: `{"Volumes":[],"Err":""}`},
				{Method: "VolumeDriver.Get", Request: "{}", Err: "no answer: EOF"},
			},
		},
		{
			name:   "not HTTP",
			steps:  []string{"> " + listReq, "< HTTP/9 what\r\n", "< "},
			want:   []types.TraceRecord{{Method: "VolumeDriver.List", Request: "{}", Err: "not parsed: a malformed status line; the connection's later calls are not recorded"}},
			counts: map[string][]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got records
			var cnt counts
			tap := &Tap{}
			tap.Set(got.emit)
			c := NewConn(time.Now(), 7, &cnt, tap)
			for _, step := range tt.steps {
				dir, b, _ := strings.Cut(step, " ")
				switch {
				case b == "" && dir == "<":
					c.answersEnded(c.now())
				default:
					c.Feed(dir == ">", []byte(b))
				}
			}
			c.finish(c.now())
			require.Len(t, got.recs, len(tt.want))
			for i, r := range got.recs {
				assert.Equal(t, 7, r.Conn)
				assert.False(t, r.Time.IsZero())
				assert.GreaterOrEqual(t, r.Latency, time.Duration(0))
				r.Conn, r.Time, r.Latency = 0, time.Time{}, 0
				assert.Equal(t, tt.want[i], r, "record %d", i)
			}
			if tt.counts != nil {
				if cnt.calls == nil {
					cnt.calls = map[string][]int{}
				}
				assert.Equal(t, tt.counts, cnt.calls, "what the Counter was given")
			}
		})
	}
}

// TestTapCallByCall: a call is recorded if the tap is on when its request
// line passes: one whose request began before the tap went on is not, one
// whose request began before it went off is, to the emit of then.
func TestTapCallByCall(t *testing.T) {
	var first, second records
	tap := &Tap{}
	c := NewConn(time.Now(), 1, nil, tap)
	c.Feed(true, []byte("POST /A HTTP/1.1\r\nHost: p\r\n"))
	tap.Set(first.emit)
	c.Feed(true, []byte("Content-Length: 0\r\n\r\n"))
	c.Feed(false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	assert.Empty(t, first.recs, "the request began before the tap was on")

	c.Feed(true, []byte("POST /B HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n"))
	tap.Set(second.emit)
	c.Feed(true, []byte("POST /C HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n"))
	tap.Set(nil)
	c.Feed(true, []byte("POST /D HTTP/1.1\r\nHost: p\r\nContent-Length: 0\r\n\r\n"))
	for range 3 {
		c.Feed(false, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	}
	require.Len(t, first.recs, 1)
	assert.Equal(t, "B", first.recs[0].Method)
	require.Len(t, second.recs, 1)
	assert.Equal(t, "C", second.recs[0].Method)
}
