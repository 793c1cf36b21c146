package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/plugin"
	"github.com/plugdbg/plugdbg/errkind"
)

// Errors of `docker plugin set`, with Docker's texts (v2/settable.go, v2/plugin.go: Set).
var (
	// ErrSetActive is Docker's refusal to set on an enabled plugin. Set does
	// not check this, since whether a plugin is running is the caller's
	// state; callers return this error themselves. Its kind is Conflict,
	// the others' Invalid.
	ErrSetActive = errkind.Conflict(errors.New("cannot set on an active plugin, disable plugin before setting"))
	// ErrSetFormat is returned for an argument that starts with "=".
	ErrSetFormat = errkind.Invalid(errors.New("invalid format, must be <name>[.<field>][=<value>]"))
	// ErrSetMultipleFields is returned when no field is given and the entry
	// has several settable fields.
	ErrSetMultipleFields = errkind.Invalid(errors.New("multiple fields are settable, one must be specified"))
	// ErrNoMountSource is returned when setting the source of a mount whose
	// source is null in the config.
	ErrNoMountSource = errkind.Invalid(errors.New("plugin config has no mount source"))
	// ErrNoDevicePath is returned when setting the path of a device whose
	// path is null in the config.
	ErrNoDevicePath = errkind.Invalid(errors.New("plugin config has no device path"))
)

// Bounds of `set`. Settings are stored with the plugin, ride in every ls,
// inspect and set event, and become a container's environment and argv,
// so they are kept far above what plugins set in practice (a flag, a path,
// a key of a few KiB) and far below what would weigh on the daemon. Docker
// has none of these bounds.
const (
	// MaxSetArgs bounds the arguments of one set: a plugin has a handful
	// of settable entries, and each may be set only once usefully.
	MaxSetArgs = 128
	// MaxSettingName bounds the name part of an argument; config names
	// are identifiers.
	MaxSettingName = 256
	// MaxSettingValue bounds one value (an env value, a mount source, a
	// device path, the args line): room for a PEM certificate chain,
	// a quarter of Linux's 128 KiB bound on one environment string.
	MaxSettingValue = 32 << 10
	// MaxArgs bounds Settings.Args once the args line is split.
	MaxArgs = 1024
	// MaxSettingsSize bounds the values of all settings together, which
	// the per-value bound alone leaves open to a config with many
	// settable entries.
	MaxSettingsSize = 256 << 10
)

// Fields that `docker plugin set` may change, per kind of entry.
const (
	fieldValue  = "value"
	fieldSource = "source"
	fieldPath   = "path"
)

var (
	allowedEnvFields    = []string{fieldValue}
	allowedArgsFields   = []string{fieldValue}
	allowedMountFields  = []string{fieldSource}
	allowedDeviceFields = []string{fieldPath}
)

// InitialSettings returns the settings a freshly installed or created plugin
// starts with: Env gets NAME=VALUE for each env with a non-null value, Args a
// copy of Args.Value, Mounts and Devices copies of the config's lists. Every
// list is non-nil, so it serializes as [] as in Docker.
//
// Unlike Docker (InitEmptySettings), the mount sources and device paths are
// copied, not shared with c: Docker's shallow copy makes a later set change
// both until the daemon restarts and only the config afterwards.
func InitialSettings(c plugin.Config) plugin.Settings {
	s := plugin.Settings{
		Args:    append([]string{}, c.Args.Value...),
		Env:     make([]string, 0, len(c.Env)),
		Mounts:  make([]plugin.Mount, 0, len(c.Mounts)),
		Devices: make([]plugin.Device, 0, len(c.Linux.Devices)),
	}
	for _, e := range c.Env {
		if e.Value != nil {
			s.Env = append(s.Env, e.Name+"="+*e.Value)
		}
	}
	for _, m := range c.Mounts {
		s.Mounts = append(s.Mounts, cloneMount(m))
	}
	for _, d := range c.Linux.Devices {
		s.Devices = append(s.Devices, cloneDevice(d))
	}
	return s
}

// setArg is one parsed `docker plugin set` argument.
type setArg struct {
	name  string
	field string
	value string
}

// parseSetArg splits "<name>[.<field>][=<value>]" as Docker does: the value
// follows the first "=" (none means ""), and the field follows the last "."
// of the part before it, unless that dot is the first character.
func parseSetArg(arg string) (setArg, error) {
	var s setArg
	name, value, _ := strings.Cut(arg, "=")
	if strings.HasPrefix(arg, "=") {
		return s, ErrSetFormat
	}
	switch {
	case len(name) > MaxSettingName:
		return s, fmt.Errorf("setting name of %d bytes, over the %d-byte limit", len(name), MaxSettingName)
	case strings.IndexByte(name, 0) >= 0:
		return s, fmt.Errorf("setting name %q: contains a NUL byte", name)
	case len(value) > MaxSettingValue:
		return s, fmt.Errorf("setting %q: value of %d bytes, over the %s limit", name, len(value), units.BytesSize(MaxSettingValue))
	case strings.IndexByte(value, 0) >= 0:
		// The kernel would cut an env value or an argument there.
		return s, fmt.Errorf("setting %q: value contains a NUL byte", name)
	}
	s.name, s.value = name, value
	if i := strings.LastIndex(name, "."); i > 0 {
		s.name, s.field = name[:i], name[i+1:]
	}
	return s, nil
}

// prettyName is the argument as Docker quotes it in "is not settable".
func (s setArg) prettyName() string {
	if s.field != "" {
		return s.name + "." + s.field
	}
	return s.name
}

// resolveField picks the field to set on an entry whose Settable list is
// settable, and reports whether that field may be set. Like Docker, a
// missing field defaults to the single settable one, and the default shows
// in the "is not settable" message.
func (s *setArg) resolveField(allowed, settable []string) error {
	if s.field == "" {
		switch {
		case len(settable) == 1:
			s.field = settable[0]
		case len(settable) > 1:
			return ErrSetMultipleFields
		}
	}
	if !slices.Contains(allowed, s.field) || !slices.Contains(settable, s.field) {
		return fmt.Errorf("%q is not settable", s.prettyName())
	}
	return nil
}

// Set applies `docker plugin set` arguments of the form
// "<name>[.<field>][=<value>]" to p, with Docker's rules and error texts:
//
//   - env NAME (field "value") replaces or appends NAME=value in Settings.Env;
//   - mount NAME (field "source") sets that mount's source;
//   - device NAME (field "path") sets that device's path;
//   - the args entry NAME (field "value") sets Settings.Args to the value
//     split at each single space.
//
// Names are searched in that order; the first entry of a kind with the name
// wins. A field is settable only if the entry lists it in Settable and the
// kind allows it.
//
// Docker writes mount sources and device paths into Config (its InitSpec
// mounts Config.Mounts but reads Settings.Devices). Set writes them into
// Config too, so inspect output matches Docker's, and also into the entries
// of Settings.Mounts and Settings.Devices with the same name, because
// plugdbg builds the spec from Settings. In Docker the two stay in step only
// by pointer aliasing until the daemon restarts; that split is a bug not
// copied here.
//
// Set is all or nothing: on error p is unchanged. On success p's lists are
// replaced by fresh copies, so no pointer in p is shared with earlier values.
// Set does not check whether the plugin is enabled (see ErrSetActive). It is
// not safe for concurrent use on the same p.
func Set(p *plugin.Plugin, args []string) error {
	if len(args) > MaxSetArgs {
		return fmt.Errorf("%d settings in one set, over the limit of %d", len(args), MaxSetArgs)
	}
	sets := make([]setArg, 0, len(args))
	for _, arg := range args {
		s, err := parseSetArg(arg)
		if err != nil {
			return err
		}
		sets = append(sets, s)
	}

	next := clonePlugin(*p)
	for _, s := range sets {
		if err := applySet(&next, s); err != nil {
			return err
		}
	}
	// Only growth is refused: a plugin whose config already starts over
	// the bound can still have its settings changed or shrunk.
	if n := settingsSize(next); n > MaxSettingsSize && n > settingsSize(*p) {
		return fmt.Errorf("settings of %d bytes together, over the %s limit", n, units.BytesSize(MaxSettingsSize))
	}
	*p = next
	return nil
}

// settingsSize is the size of p's settable values: Settings.Env and
// Args, and the mount sources and device paths of Config and Settings.
func settingsSize(p plugin.Plugin) int {
	n := 0
	for _, v := range p.Settings.Env {
		n += len(v)
	}
	for _, v := range p.Settings.Args {
		n += len(v) + 1
	}
	for _, m := range p.Config.Mounts {
		n += len(deref(m.Source))
	}
	for _, m := range p.Settings.Mounts {
		n += len(deref(m.Source))
	}
	for _, d := range p.Config.Linux.Devices {
		n += len(deref(d.Path))
	}
	for _, d := range p.Settings.Devices {
		n += len(deref(d.Path))
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func applySet(p *plugin.Plugin, s setArg) error {
	c := &p.Config
	for _, e := range c.Env {
		if e.Name != s.name {
			continue
		}
		if err := s.resolveField(allowedEnvFields, e.Settable); err != nil {
			return err
		}
		setEnv(&p.Settings.Env, s.name, s.value)
		return nil
	}

	for i := range c.Mounts {
		m := &c.Mounts[i]
		if m.Name != s.name {
			continue
		}
		if err := s.resolveField(allowedMountFields, m.Settable); err != nil {
			return err
		}
		if m.Source == nil {
			return ErrNoMountSource
		}
		m.Source = ptr(s.value)
		for j := range p.Settings.Mounts {
			if p.Settings.Mounts[j].Name == s.name {
				p.Settings.Mounts[j].Source = ptr(s.value)
			}
		}
		return nil
	}

	for i := range c.Linux.Devices {
		d := &c.Linux.Devices[i]
		if d.Name != s.name {
			continue
		}
		if err := s.resolveField(allowedDeviceFields, d.Settable); err != nil {
			return err
		}
		if d.Path == nil {
			return ErrNoDevicePath
		}
		d.Path = ptr(s.value)
		for j := range p.Settings.Devices {
			if p.Settings.Devices[j].Name == s.name {
				p.Settings.Devices[j].Path = ptr(s.value)
			}
		}
		return nil
	}

	if c.Args.Name == s.name {
		if err := s.resolveField(allowedArgsFields, c.Args.Settable); err != nil {
			return err
		}
		args := strings.Split(s.value, " ")
		if len(args) > MaxArgs {
			return fmt.Errorf("setting %q: %d args, over the limit of %d", s.name, len(args), MaxArgs)
		}
		p.Settings.Args = args
		return nil
	}

	return fmt.Errorf("setting %q not found in the plugin configuration", s.name)
}

// setEnv replaces the first NAME=… entry of env or appends one.
func setEnv(env *[]string, name, value string) {
	for i, e := range *env {
		if n, _, _ := strings.Cut(e, "="); n == name {
			(*env)[i] = name + "=" + value
			return
		}
	}
	*env = append(*env, name+"="+value)
}

func ptr(s string) *string { return &s }

func cloneString(p *string) *string {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

func cloneMount(m plugin.Mount) plugin.Mount {
	m.Source = cloneString(m.Source)
	m.Options = slices.Clone(m.Options)
	m.Settable = slices.Clone(m.Settable)
	return m
}

func cloneDevice(d plugin.Device) plugin.Device {
	d.Path = cloneString(d.Path)
	d.Settable = slices.Clone(d.Settable)
	return d
}

func cloneEnv(e plugin.Env) plugin.Env {
	e.Value = cloneString(e.Value)
	e.Settable = slices.Clone(e.Settable)
	return e
}

// cloneEach deep-copies a list, keeping nil as nil and empty as empty, so
// that the JSON form does not change.
func cloneEach[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = clone(v)
	}
	return out
}

// cloneConfig returns a copy of c that shares no memory with it.
func cloneConfig(c plugin.Config) plugin.Config {
	c.Args.Settable = slices.Clone(c.Args.Settable)
	c.Args.Value = slices.Clone(c.Args.Value)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Env = cloneEach(c.Env, cloneEnv)
	c.Interface.Types = slices.Clone(c.Interface.Types)
	c.Linux.Capabilities = slices.Clone(c.Linux.Capabilities)
	c.Linux.Devices = cloneEach(c.Linux.Devices, cloneDevice)
	c.Mounts = cloneEach(c.Mounts, cloneMount)
	if c.Rootfs != nil {
		r := *c.Rootfs
		r.DiffIds = slices.Clone(r.DiffIds)
		c.Rootfs = &r
	}
	return c
}

// clonePlugin returns a copy of p that shares no memory with it.
func clonePlugin(p plugin.Plugin) plugin.Plugin {
	p.Config = cloneConfig(p.Config)
	p.Settings.Args = slices.Clone(p.Settings.Args)
	p.Settings.Env = slices.Clone(p.Settings.Env)
	p.Settings.Mounts = cloneEach(p.Settings.Mounts, cloneMount)
	p.Settings.Devices = cloneEach(p.Settings.Devices, cloneDevice)
	return p
}
