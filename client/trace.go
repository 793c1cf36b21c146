package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	dec := json.NewDecoder(resp.Body)
	for {
		var r trace.Record
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read trace: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}
