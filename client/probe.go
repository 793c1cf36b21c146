package client

import (
	"context"
	"fmt"
)

// PluginSocket returns the host path of an enabled plugin's socket, for
// probing it directly.
func (c *Client) PluginSocket(ctx context.Context, ref string) (string, error) {
	p, err := c.Inspect(ctx, ref)
	if err != nil {
		return "", err
	}
	if !p.Enabled {
		return "", fmt.Errorf("plugin %s is not enabled (plugdbg enable %s), so it has no socket", p.Name, p.Name)
	}
	if p.State.Socket == "" {
		return "", fmt.Errorf("plugin %s: the daemon reports no socket", p.Name)
	}
	return p.State.Socket, nil
}
