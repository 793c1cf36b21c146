package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/types"
)

// Privileges asks the daemon which privileges the plugin at remote wants.
// auth is an encoded X-Registry-Auth value (see RegistryAuth).
func (c *Client) Privileges(ctx context.Context, remote, auth string) (plugin.Privileges, error) {
	resp, err := c.sendHeader(ctx, http.MethodGet, "/plugins/privileges", url.Values{"remote": {remote}}, nil, authHeader(auth))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var privs plugin.Privileges
	if err := json.NewDecoder(resp.Body).Decode(&privs); err != nil {
		return nil, fmt.Errorf("decode privileges: %w", err)
	}
	return privs, nil
}

func authHeader(auth string) http.Header {
	h := http.Header{}
	if auth != "" {
		h.Set(registryAuthHeader, auth)
	}
	return h
}

// stream POSTs privileges (if any) and returns the progress stream.
func (c *Client) stream(ctx context.Context, path string, q url.Values, privs plugin.Privileges, auth string) (*http.Response, error) {
	h := authHeader(auth)
	var body io.Reader
	if privs != nil {
		b, err := json.Marshal(privs)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	return c.sendHeader(ctx, http.MethodPost, path, q, body, h)
}

// Pull starts an install of remote as name ("" for the default) with the
// accepted privileges and returns the local name and the progress stream,
// which the caller reads to the end (see DisplayStream) and closes.
func (c *Client) Pull(ctx context.Context, remote, name string, privs plugin.Privileges, auth string) (string, io.ReadCloser, error) {
	if privs == nil {
		privs = plugin.Privileges{}
	}
	resp, err := c.stream(ctx, "/plugins/pull", url.Values{"remote": {remote}, "name": {name}}, privs, auth)
	if err != nil {
		return "", nil, err
	}
	return resp.Header.Get("Docker-Plugin-Name"), resp.Body, nil
}

// InstallOptions are the inputs of Install, as `docker plugin install`
// takes them.
type InstallOptions struct {
	Remote   string   // the reference as the user typed it
	Alias    string   // local name; the remote's name and tag if empty
	Disable  bool     // leave the plugin disabled
	GrantAll bool     // accept the privileges without asking
	Args     []string // KEY=VALUE settings applied before the enable
	// Accept is asked whether the plugin's privileges are granted, unless
	// there are none or GrantAll is set. Nil refuses.
	Accept func(remote string, privs plugin.Privileges) (bool, error)
	// Progress shows the daemon's progress stream; a plain listing to
	// io.Discard if nil.
	Progress *Display
}

// Install pulls a plugin, asking for its privileges first, applies the
// settings and enables it. If the settings or the enable fail, the plugin
// is removed again: a failed install leaves nothing behind. It returns the
// local name.
func (c *Client) Install(ctx context.Context, o InstallOptions) (string, error) {
	ref, err := parseRef(o.Remote)
	if err != nil {
		return "", fmt.Errorf("invalid reference %q: %w", o.Remote, err)
	}
	name := ""
	if o.Alias != "" {
		a, err := parseRef(o.Alias)
		if err != nil {
			return "", fmt.Errorf("invalid alias %q: %w", o.Alias, err)
		}
		if a.canonical() {
			return "", fmt.Errorf("invalid name: %s", o.Alias)
		}
		name = a.tagged().Familiar()
	}
	auth, err := RegistryAuth(ref.domain)
	if err != nil {
		return "", err
	}
	remote := ref.String()
	privs, err := c.Privileges(ctx, remote, auth)
	if err != nil {
		return "", err
	}
	if len(privs) > 0 && !o.GrantAll {
		ok := false
		if o.Accept != nil {
			if ok, err = o.Accept(o.Remote, privs); err != nil {
				return "", err
			}
		}
		if !ok {
			return "", fmt.Errorf("permission denied while installing plugin %s", o.Remote)
		}
	}
	name, body, err := c.Pull(ctx, remote, name, privs, auth)
	if err != nil {
		return "", err
	}
	_, err = o.Progress.Show(body)
	body.Close()
	if err != nil {
		return "", err
	}
	undo := func(cause error) error {
		if rmErr := c.Remove(context.WithoutCancel(ctx), name, true); rmErr != nil {
			return fmt.Errorf("%w (removing the plugin again: %v)", cause, rmErr)
		}
		return fmt.Errorf("%w (the plugin was removed again)", cause)
	}
	if len(o.Args) > 0 {
		if err := c.Set(ctx, name, o.Args); err != nil {
			return "", undo(fmt.Errorf("set %s: %w", name, err))
		}
	}
	if !o.Disable {
		if err := c.EnableProgress(ctx, name, 0, o.Progress); err != nil {
			return "", undo(err)
		}
	}
	return name, nil
}

// PushOptions are the inputs of Push.
type PushOptions struct {
	Name     string // the local plugin name, with the registry ("localhost:5000/p:tag")
	Progress *Display
}

// Push pushes a plugin to the registry its name points to, as
// `docker plugin push` does, and returns what the registry stored.
func (c *Client) Push(ctx context.Context, o PushOptions) (types.PushResult, error) {
	var res types.PushResult
	named, err := parseRef(o.Name)
	if err != nil {
		return res, fmt.Errorf("invalid plugin name %q: %w", o.Name, err)
	}
	if named.canonical() {
		return res, fmt.Errorf("invalid name: %s", o.Name)
	}
	named = named.tagged()
	auth, err := RegistryAuth(named.domain)
	if err != nil {
		return res, err
	}
	resp, err := c.stream(ctx, "/plugins/"+named.Familiar()+"/push", nil, nil, auth)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	aux, err := o.Progress.Show(resp.Body)
	if err != nil {
		return res, err
	}
	if aux == nil {
		return res, errors.New("push: the daemon sent no result")
	}
	if err := json.Unmarshal(*aux, &res); err != nil {
		return res, fmt.Errorf("push: decode result: %w", err)
	}
	return res, nil
}

// UpgradeOptions are the inputs of Upgrade, as `docker plugin upgrade`
// takes them.
type UpgradeOptions struct {
	Name            string
	Remote          string // the plugin's PluginReference if empty
	GrantAll        bool
	SkipRemoteCheck bool
	// Confirm asks a yes/no question (the remote differs from the current
	// image); nil answers no.
	Confirm func(question string) (bool, error)
	// Accept is asked about the new image's privileges, as in Install.
	Accept   func(remote string, privs plugin.Privileges) (bool, error)
	Progress *Display
}

// Upgrade replaces a disabled plugin's image, keeping its settings. It
// writes Docker's "Upgrading plugin …" line to the progress output first.
// It returns the remote it upgraded to.
func (c *Client) Upgrade(ctx context.Context, o UpgradeOptions) (string, error) {
	p, err := c.Inspect(ctx, o.Name)
	if err != nil {
		return "", fmt.Errorf("error reading plugin data: %w", err)
	}
	if p.Enabled {
		return "", errors.New("the plugin must be disabled before upgrading")
	}
	remote := o.Remote
	if remote == "" {
		remote = p.PluginReference
	}
	newRef, err := parseRef(remote)
	if err != nil {
		return "", fmt.Errorf("error parsing remote upgrade image reference: %w", err)
	}
	newRef = newRef.tagged()
	oldRef, err := parseRef(p.PluginReference)
	if err != nil {
		return "", fmt.Errorf("error parsing current image reference: %w", err)
	}
	oldRef = oldRef.tagged()
	o.Progress.Printf("Upgrading plugin %s from %s to %s\n", p.Name, oldRef.Familiar(), newRef.Familiar())
	if !o.SkipRemoteCheck && newRef.String() != oldRef.String() {
		ok := false
		if o.Confirm != nil {
			if ok, err = o.Confirm("Plugin images do not match, are you sure?"); err != nil {
				return "", err
			}
		}
		if !ok {
			return "", errors.New("plugin upgrade has been cancelled")
		}
	}
	auth, err := RegistryAuth(newRef.domain)
	if err != nil {
		return "", err
	}
	privs, err := c.Privileges(ctx, newRef.String(), auth)
	if err != nil {
		return "", err
	}
	if len(privs) > 0 && !o.GrantAll {
		ok := false
		if o.Accept != nil {
			if ok, err = o.Accept(remote, privs); err != nil {
				return "", err
			}
		}
		if !ok {
			return "", fmt.Errorf("permission denied while upgrading plugin %s", remote)
		}
	}
	if privs == nil {
		privs = plugin.Privileges{}
	}
	resp, err := c.stream(ctx, "/plugins/"+p.Name+"/upgrade", url.Values{"remote": {newRef.String()}}, privs, auth)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := o.Progress.Show(resp.Body); err != nil {
		return "", err
	}
	return remote, nil
}
