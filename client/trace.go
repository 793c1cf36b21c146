package client

import (
	"context"
	"net/http"

	"github.com/plugdbg/plugdbg/runtime/trace"
)

// Trace puts a recording proxy on an enabled plugin's socket and calls fn
// with each call made through it, until ctx ends (which removes the proxy)
// or fn fails.
func (c *Client) Trace(ctx context.Context, ref string, fn func(trace.Record) error) error {
	resp, err := c.send(ctx, http.MethodGet, "/plugins/"+ref+"/trace", nil, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeEach(ctx, resp.Body, "trace", fn)
}
