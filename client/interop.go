package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/plugdbg/plugdbg/api/types"
)

// Usage says what holds plugin ref: for "docker:NAME", dockerd's volumes
// and networks; for plugdbg's own, what its traces saw. With calls, the
// trace's recent calls come too.
func (c *Client) Usage(ctx context.Context, ref string, calls bool) (types.Usage, error) {
	q := url.Values{}
	if calls {
		q.Set("calls", "1")
	}
	var u types.Usage
	return u, c.do(ctx, http.MethodGet, "/plugins/"+ref+"/usage", q, nil, &u)
}

// Publish turns the publication of plugin ref for dockerd's legacy
// discovery on or off.
func (c *Client) Publish(ctx context.Context, ref string, on bool) error {
	q := url.Values{"on": {"0"}}
	if on {
		q.Set("on", "1")
	}
	return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/publish", q, nil, nil)
}

// Observe turns the observation of plugin ref on or off: while it runs,
// its calls are counted (Calls). It returns once the change is in effect.
func (c *Client) Observe(ctx context.Context, ref string, on bool) error {
	q := url.Values{"on": {"0"}}
	if on {
		q.Set("on", "1")
	}
	return c.do(ctx, http.MethodPost, "/plugins/"+ref+"/observe", q, nil, nil)
}

// Calls returns the counters of running plugin ref's calls.
func (c *Client) Calls(ctx context.Context, ref string) (types.CallStats, error) {
	var s types.CallStats
	return s, c.do(ctx, http.MethodGet, "/plugins/"+ref+"/calls", nil, nil, &s)
}
