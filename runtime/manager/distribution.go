package manager

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/runtime/distribution"
)

// Actions of registry operations, beside Docker's pull.
const (
	ActionPush    events.Action = "push"
	ActionUpgrade events.Action = "upgrade"
)

// ErrIncorrectPrivileges is Docker's error for a pull or upgrade whose
// accepted privileges are not the ones the plugin asks for.
var ErrIncorrectPrivileges = errors.New("incorrect privileges")

// PullOptions describe an install from a registry.
type PullOptions struct {
	Remote string // the reference, as Docker resolves it
	// Name is the local name; by default the remote's familiar name with
	// its tag. See PullName.
	Name string
	// Privileges are those the user accepted; they must be the ones the
	// plugin asks for (order does not matter).
	Privileges plugin.Privileges
	Auth       registry.AuthConfig
	Progress   distribution.ProgressFunc
}

// PullName returns the local name a pull of remote gets, name if given
// (with ":latest" added), as dockerd's pull route computes it.
func (m *Manager) PullName(remote, name string) (string, error) {
	ref, err := m.opts.Registry.ParseRef(remote)
	if err != nil {
		return "", err
	}
	if name == "" {
		return ref.LocalName(), nil
	}
	local, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", errkind.Invalid(fmt.Errorf("invalid plugin name %q: %w", name, err))
	}
	if _, ok := local.(reference.Canonical); ok {
		return "", errkind.Invalid(errors.New("cannot use digest in plugin tag"))
	}
	return reference.FamiliarString(reference.TagNameOnly(local)), nil
}

// Privileges fetches remote's manifest and config and returns the
// privileges the plugin asks for.
func (m *Manager) Privileges(ctx context.Context, remote string, auth registry.AuthConfig) (plugin.Privileges, error) {
	ref, err := m.opts.Registry.ParseRef(remote)
	if err != nil {
		return nil, err
	}
	im, err := m.opts.Registry.Fetch(ctx, ref, auth)
	if err != nil {
		return nil, err
	}
	return config.Privileges(im.Config), nil
}

// Pull installs a plugin from a registry, disabled. The layers are
// unpacked into a staging directory that becomes the plugin's directory in
// one rename, so a failed or interrupted pull (ctx ending included) leaves
// nothing behind.
func (m *Manager) Pull(ctx context.Context, o PullOptions) (id string, retErr error) {
	name, err := m.PullName(o.Remote, o.Name)
	if err != nil {
		return "", err
	}
	ref, err := m.opts.Registry.ParseRef(o.Remote)
	if err != nil {
		return "", err
	}
	release, err := m.reserveName(name)
	if err != nil {
		return "", err
	}
	defer release()

	im, err := m.fetchChecked(ctx, ref, o.Auth, o.Privileges)
	if err != nil {
		return "", err
	}
	staging, err := m.store.NewStaging()
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			m.store.Discard(staging)
		}
	}()
	rootfs := filepath.Join(staging, "rootfs")
	if err := im.Unpack(rootfs, staging, o.Progress); err != nil {
		return "", fmt.Errorf("pull %s: %w", ref, err)
	}
	if err := config.CheckEntrypoint(rootfs, im.Config); err != nil {
		return "", errkind.Invalid(fmt.Errorf("pull %s: %w", ref, err))
	}
	p := plugin.Plugin{
		ID:              config.NewID(),
		Name:            name,
		PluginReference: ref.String(),
		Config:          im.Config,
		Settings:        config.InitialSettings(im.Config),
	}
	if err := m.store.Commit(staging, p); err != nil {
		return "", err
	}
	m.mu.Lock()
	m.plugins[p.ID] = &entry{p: p, state: types.State{Status: types.StatusDisabled}, backoff: backoffMin}
	m.mu.Unlock()
	m.log.WithField("plugin", p.ID).Infof("pulled plugin %s from %s (%s)", name, ref, im.Digest)
	m.emit(p.ID, name, events.ActionPull, nil)
	return p.ID, nil
}

// reserveName claims a local name for a create or pull in progress.
func (m *Manager) reserveName(name string) (release func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	taken := m.creating[name]
	for _, e := range m.plugins {
		taken = taken || e.p.Name == name
	}
	if taken {
		return nil, errkind.Conflict(fmt.Errorf("plugin %s already exists", name))
	}
	m.creating[name] = true
	return func() {
		m.mu.Lock()
		delete(m.creating, name)
		m.mu.Unlock()
	}, nil
}

// fetchChecked fetches the manifest and config, validates the config and
// compares the privileges it asks for with the accepted ones.
func (m *Manager) fetchChecked(ctx context.Context, ref distribution.Ref, auth registry.AuthConfig, accepted plugin.Privileges) (*distribution.Image, error) {
	im, err := m.opts.Registry.Fetch(ctx, ref, auth)
	if err != nil {
		return nil, err
	}
	if err := config.Validate(im.Config); err != nil {
		return nil, errkind.Invalid(fmt.Errorf("pull %s: plugin config: %w", ref, err))
	}
	if !samePrivileges(config.Privileges(im.Config), accepted) {
		return nil, errkind.Invalid(fmt.Errorf("pull %s: %w", ref, ErrIncorrectPrivileges))
	}
	return im, nil
}

// samePrivileges compares two privilege lists, ignoring the order of the
// privileges and of their values (Docker ≥ 29.4).
func samePrivileges(a, b plugin.Privileges) bool {
	norm := func(ps plugin.Privileges) []string {
		out := make([]string, 0, len(ps))
		for _, p := range ps {
			v := slices.Clone(p.Value)
			slices.Sort(v)
			out = append(out, p.Name+"\x00"+strings.Join(v, "\x00"))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// Push pushes plugin ref to the registry under its name, which must then
// carry the registry ("localhost:5000/p:latest"), as Docker does. The
// plugin's operations wait while its rootfs is packed and pushed.
func (m *Manager) Push(ctx context.Context, ref string, auth registry.AuthConfig, progress distribution.ProgressFunc) (types.PushResult, error) {
	e, p, err := m.lock(ref)
	if err != nil {
		return types.PushResult{}, err
	}
	defer e.op.Unlock()
	p = clonePlugin(p)
	target, err := m.opts.Registry.ParseRef(p.Name)
	if err != nil {
		return types.PushResult{}, err
	}
	scratch, err := m.store.NewStaging()
	if err != nil {
		return types.PushResult{}, err
	}
	defer m.store.Discard(scratch)
	res, err := m.opts.Registry.Push(ctx, target, m.store.Rootfs(p.ID), p.Config, scratch, auth, progress)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", p.Name, err)
	}
	m.log.WithField("plugin", p.ID).Infof("pushed plugin %s to %s (%s)", p.Name, target, res.Digest)
	m.emit(p.ID, p.Name, ActionPush, nil)
	return res, nil
}

// UpgradeOptions describe an upgrade from a registry.
type UpgradeOptions struct {
	Remote     string // the new reference; the plugin's PluginReference if empty
	Privileges plugin.Privileges
	Auth       registry.AuthConfig
	Progress   distribution.ProgressFunc
}

// Upgrade replaces a disabled plugin's config and rootfs by those of
// another image, keeping its ID, name and settings (env, args, and the
// mount sources and device paths set on it, where the new config still
// lets them be set). A failure leaves the plugin as it was.
func (m *Manager) Upgrade(ctx context.Context, name string, o UpgradeOptions) (retErr error) {
	e, p, err := m.lock(name)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	p = clonePlugin(p)
	if p.Enabled {
		return errkind.Conflict(errors.New("plugin must be disabled before upgrading"))
	}
	remote := o.Remote
	if remote == "" {
		remote = p.PluginReference
	}
	ref, err := m.opts.Registry.ParseRef(remote)
	if err != nil {
		return err
	}
	im, err := m.fetchChecked(ctx, ref, o.Auth, o.Privileges)
	if err != nil {
		return err
	}
	staging, err := m.store.NewStaging()
	if err != nil {
		return err
	}
	defer m.store.Discard(staging) // empty after a successful upgrade
	rootfs := filepath.Join(staging, "rootfs")
	if err := im.Unpack(rootfs, staging, o.Progress); err != nil {
		return fmt.Errorf("upgrade %s: %w", p.Name, err)
	}
	if err := config.CheckEntrypoint(rootfs, im.Config); err != nil {
		return errkind.Invalid(fmt.Errorf("upgrade %s: %w", p.Name, err))
	}
	p.Config = im.Config
	keepSetSources(&p)
	p.PluginReference = ref.String()
	if err := m.store.Upgrade(p, rootfs); err != nil {
		return err
	}
	m.mu.Lock()
	e.p = p
	m.mu.Unlock()
	m.log.WithField("plugin", p.ID).Infof("upgraded plugin %s to %s (%s)", p.Name, ref, im.Digest)
	m.emit(p.ID, p.Name, ActionUpgrade, map[string]string{"remote": ref.String()})
	return nil
}

// keepSetSources carries the mount sources and device paths of p.Settings
// into the new p.Config, for entries of the same name that are still
// settable there, and drops settings the new config no longer has.
func keepSetSources(p *plugin.Plugin) {
	old := map[string]*string{}
	for _, m := range p.Settings.Mounts {
		old["m\x00"+m.Name] = m.Source
	}
	for _, d := range p.Settings.Devices {
		old["d\x00"+d.Name] = d.Path
	}
	fresh := config.InitialSettings(p.Config)
	for i := range p.Config.Mounts {
		m := &p.Config.Mounts[i]
		if src, ok := old["m\x00"+m.Name]; ok && src != nil && m.Source != nil && slices.Contains(m.Settable, "source") {
			v := *src
			m.Source = &v
			fresh.Mounts[i].Source = &v
		}
	}
	for i := range p.Config.Linux.Devices {
		d := &p.Config.Linux.Devices[i]
		if path, ok := old["d\x00"+d.Name]; ok && path != nil && d.Path != nil && slices.Contains(d.Settable, "path") {
			v := *path
			d.Path = &v
			fresh.Devices[i].Path = &v
		}
	}
	p.Settings.Mounts, p.Settings.Devices = fresh.Mounts, fresh.Devices
}
