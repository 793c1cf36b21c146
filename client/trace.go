package client

import (
	"context"
	"net/http"

	"github.com/plugdbg/plugdbg/api/types"
)

// Trace puts a recording proxy on an enabled plugin's socket (or, for a
// "docker:NAME" ref, on dockerd's plugin's), calls started (if not nil)
// with the socket's path once the proxy is in place there, so that every
// call made on that path from then on reaches fn, then calls fn with each
// call made through it, until ctx ends (which removes the proxy) or fn
// fails.
func (c *Client) Trace(ctx context.Context, ref string, started func(socket string), fn func(types.TraceRecord) error) error {
	resp, err := c.send(ctx, http.MethodGet, "/plugins/"+ref+"/trace", nil, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeEach(ctx, resp.Body, "trace", func(r types.TraceRecord) error {
		if r.Tracing != "" {
			if started != nil {
				started(r.Tracing)
			}
			return nil
		}
		return fn(r)
	})
}
