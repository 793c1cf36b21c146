package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/plugdbg/plugdbg/api/types"
)

// Top lists the processes of running plugin ref: PID, user (the plugin's
// own names), CPU time and command; or, with psArgs, the columns of `ps
// psArgs…` run on the daemon's host, as docker top does.
func (c *Client) Top(ctx context.Context, ref string, psArgs ...string) (types.Top, error) {
	var q url.Values
	if len(psArgs) > 0 {
		q = url.Values{"ps_args": {strings.Join(psArgs, " ")}}
	}
	var out types.Top
	return out, c.do(ctx, http.MethodGet, "/plugins/"+ref+"/top", q, nil, &out)
}

// Stats calls fn with the cgroup counters of running plugin ref: once, or
// with stream about every second until ctx ends, fn fails or the plugin
// stops (then with the daemon's reason as an *Error).
func (c *Client) Stats(ctx context.Context, ref string, stream bool, fn func(types.StatsReport) error) error {
	q := url.Values{}
	if stream {
		q.Set("stream", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, "/plugins/"+ref+"/stats", q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var r struct {
			types.StatsReport
			Message string `json:"message"`
		}
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("decode stats: %w", err)
		}
		if r.Message != "" {
			return &Error{Status: http.StatusConflict, Message: r.Message}
		}
		if err := fn(r.StatsReport); err != nil {
			return err
		}
	}
}
