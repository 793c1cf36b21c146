package dockerd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/plugin"

	"github.com/plugdbg/plugdbg/api/execproto"
	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/container"
)

// Exec starts a process in the container of dockerd's plugin p, through
// dockerd's runc root, with the plugin's environment, working directory
// and user (root: dockerd ignores config.json's User) unless c says
// otherwise; tb (may be nil) serves commands the plugin's rootfs lacks.
func (h *Host) Exec(p plugin.Plugin, c types.ExecConfig, tb *container.Toolbox) (execproto.Process, error) {
	base := container.Base{Env: pluginEnv(p), Cwd: p.Config.WorkDir}
	proc, err := container.Exec(h.runcRoot(), p.ID, c, base, tb, container.LocalRunner{})
	if err != nil {
		return nil, err
	}
	return proc, nil
}

// Top lists the processes of dockerd's plugin p.
func (h *Host) Top(p plugin.Plugin) (types.Top, error) {
	return container.Processes(h.runcRoot(), p.ID)
}

// Stats samples the cgroup counters of dockerd's plugin p.
func (h *Host) Stats(p plugin.Plugin) (types.Stats, error) {
	return container.ReadStats(h.runcRoot(), p.ID)
}

// pluginEnv is the environment dockerd gives the plugin: PATH, then its
// settings' Env (which start from config.json's defaults).
func pluginEnv(p plugin.Plugin) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return append(env, p.Settings.Env...)
}

type dockerVolume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  string
}

type dockerNetwork struct {
	Name    string
	ID      string `json:"Id"`
	Driver  string
	Created string
	IPAM    struct{ Driver string }
}

type dockerContainer struct {
	ID    string `json:"Id"`
	Names []string
	State string
}

// driverNames are the names subsystems store for plugin p as a driver: the
// tagged name (reference doc §8.10) and, for ":latest", the bare one.
func driverNames(p plugin.Plugin) []string {
	names := []string{p.Name}
	if bare, ok := strings.CutSuffix(p.Name, ":latest"); ok {
		names = append(names, bare)
	}
	return names
}

// Usage lists what holds dockerd's plugin ref: volumes whose driver it is
// (with the containers that use each), networks whose driver or IPAM
// driver it is (with their attached containers).
func (h *Host) Usage(ctx context.Context, ref string) (types.Usage, error) {
	p, err := h.Plugin(ctx, ref)
	if err != nil {
		return types.Usage{}, err
	}
	u := types.Usage{Plugin: p.ID, Name: p.Name, Source: "docker-api", Holders: []types.Holder{},
		Note: "dockerd's reference count itself is not in its API; these are the volumes and networks that take references"}
	names := driverNames(p)
	var vols struct{ Volumes []dockerVolume }
	if err := h.API.Get(ctx, "/volumes", nil, &vols); err != nil {
		return u, fmt.Errorf("usage of %s: list volumes: %w", p.Name, err)
	}
	for _, v := range vols.Volumes {
		if !slices.Contains(names, v.Driver) {
			continue
		}
		hd := types.Holder{Kind: types.KindVolume, Name: v.Name, Since: dockerTime(v.CreatedAt)}
		users, err := h.containers(ctx, "volume", v.Name)
		if err != nil {
			return u, fmt.Errorf("usage of %s: %w", p.Name, err)
		}
		if len(users) > 0 {
			hd.Detail = "used by " + strings.Join(users, ", ")
		}
		u.Holders = append(u.Holders, hd)
	}
	var nets []dockerNetwork
	if err := h.API.Get(ctx, "/networks", nil, &nets); err != nil {
		return u, fmt.Errorf("usage of %s: list networks: %w", p.Name, err)
	}
	for _, n := range nets {
		for _, role := range []struct{ kind, driver string }{{types.KindNetwork, n.Driver}, {types.KindIPAM, n.IPAM.Driver}} {
			if !slices.Contains(names, role.driver) {
				continue
			}
			hd := types.Holder{Kind: role.kind, Name: n.Name, ID: n.ID, Since: dockerTime(n.Created)}
			users, err := h.containers(ctx, "network", n.ID)
			if err != nil {
				return u, fmt.Errorf("usage of %s: %w", p.Name, err)
			}
			if len(users) > 0 {
				hd.Detail = "used by " + strings.Join(users, ", ")
			}
			u.Holders = append(u.Holders, hd)
		}
	}
	return u, nil
}

// containers names the containers (running or not) with filter key=value.
func (h *Host) containers(ctx context.Context, key, value string) ([]string, error) {
	f, _ := json.Marshal(map[string][]string{key: {value}})
	var cs []dockerContainer
	if err := h.API.Get(ctx, "/containers/json", url.Values{"all": {"1"}, "filters": {string(f)}}, &cs); err != nil {
		return nil, fmt.Errorf("list containers with %s=%s: %w", key, value, err)
	}
	var out []string
	for _, c := range cs {
		name := c.ID[:min(12, len(c.ID))]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, name+" ("+c.State+")")
	}
	return out, nil
}
