package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInitialSettings(t *testing.T) {
	c := plugin.Config{
		Env: []plugin.Env{
			{Name: "DEBUG", Value: ptr("0")},
			{Name: "UNSET"}, // null value: not in Settings.Env
			{Name: "EMPTY", Value: ptr("")},
		},
		Args:   plugin.Args{Value: []string{"--foo", "bar"}},
		Mounts: []plugin.Mount{{Name: "state", Source: ptr("/var/lib/x"), Destination: "/state", Options: []string{"rbind"}}},
		Linux:  plugin.LinuxConfig{Devices: []plugin.Device{{Name: "fuse", Path: ptr("/dev/fuse")}}},
	}
	s := InitialSettings(c)
	assert.Equal(t, []string{"DEBUG=0", "EMPTY="}, s.Env)
	assert.Equal(t, []string{"--foo", "bar"}, s.Args)
	assert.Equal(t, c.Mounts, s.Mounts)
	assert.Equal(t, c.Linux.Devices, s.Devices)

	// Deep copies: no pointer or array shared with the config (Docker shares them).
	require.Len(t, s.Mounts, 1)
	require.Len(t, s.Devices, 1)
	assert.NotSame(t, c.Mounts[0].Source, s.Mounts[0].Source)
	assert.NotSame(t, c.Linux.Devices[0].Path, s.Devices[0].Path)
	s.Args[0] = "changed"
	s.Mounts[0].Options[0] = "changed"
	assert.Equal(t, "--foo", c.Args.Value[0])
	assert.Equal(t, "rbind", c.Mounts[0].Options[0])
}

func TestInitialSettingsEmptyListsSerializeAsArrays(t *testing.T) {
	b, err := json.Marshal(InitialSettings(plugin.Config{}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Args":[],"Devices":[],"Env":[],"Mounts":[]}`, string(b))
}

// setPlugin returns an installed plugin with one settable entry of each kind.
func setPlugin() *plugin.Plugin {
	c := plugin.Config{
		Env: []plugin.Env{
			{Name: "DEBUG", Settable: []string{"value"}, Value: ptr("0")},
			{Name: "UNSET", Settable: []string{"value"}},
			{Name: "FIXED", Value: ptr("1")},
			{Name: "WRONG", Settable: []string{"source"}},
			{Name: "TWO", Settable: []string{"value", "source"}},
			{Name: "dotted.name", Settable: []string{"value"}},
		},
		Args: plugin.Args{Name: "args", Settable: []string{"value"}, Value: []string{"--default"}},
		Mounts: []plugin.Mount{
			{Name: "state", Settable: []string{"source"}, Source: ptr("/var/lib/x"), Destination: "/state", Type: "bind"},
			{Name: "nosource", Settable: []string{"source"}, Destination: "/n", Type: "bind"},
			{Name: "fixed", Source: ptr("/fixed"), Destination: "/f", Type: "bind"},
		},
		Linux: plugin.LinuxConfig{Devices: []plugin.Device{
			{Name: "fuse", Settable: []string{"path"}, Path: ptr("/dev/fuse")},
			{Name: "nopath", Settable: []string{"path"}},
		}},
	}
	return &plugin.Plugin{Name: "p:latest", ID: NewID(), Config: c, Settings: InitialSettings(c)}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, p *plugin.Plugin)
	}{
		{
			name: "env replaced",
			args: []string{"DEBUG=1"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{"DEBUG=1", "FIXED=1"}, p.Settings.Env)
				assert.Equal(t, "0", *p.Config.Env[0].Value, "Config.Env is not changed")
			},
		},
		{
			name: "env with explicit field",
			args: []string{"DEBUG.value=2"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{"DEBUG=2", "FIXED=1"}, p.Settings.Env)
			},
		},
		{
			name: "null env appended",
			args: []string{"UNSET=x"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{"DEBUG=0", "FIXED=1", "UNSET=x"}, p.Settings.Env)
			},
		},
		{
			name: "no = means empty value",
			args: []string{"DEBUG"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{"DEBUG=", "FIXED=1"}, p.Settings.Env)
			},
		},
		{
			name: "value keeps later = signs",
			args: []string{"DEBUG=a=b"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "DEBUG=a=b", p.Settings.Env[0])
			},
		},
		{
			name: "field split at the last dot",
			args: []string{"dotted.name.value=v"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "dotted.name=v", p.Settings.Env[len(p.Settings.Env)-1])
			},
		},
		{
			name: "dot in the value does not split",
			args: []string{"DEBUG=1.5"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "DEBUG=1.5", p.Settings.Env[0])
			},
		},
		{
			name: "mount source in config and settings",
			args: []string{"state.source=/srv/state"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "/srv/state", *p.Config.Mounts[0].Source)
				assert.Equal(t, "/srv/state", *p.Settings.Mounts[0].Source)
				assert.NotSame(t, p.Config.Mounts[0].Source, p.Settings.Mounts[0].Source)
			},
		},
		{
			name: "mount source with the only settable field implied",
			args: []string{"state=/srv/implied"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "/srv/implied", *p.Config.Mounts[0].Source)
				assert.Equal(t, "/srv/implied", *p.Settings.Mounts[0].Source)
			},
		},
		{
			name: "device path in config and settings",
			args: []string{"fuse.path=/dev/other"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "/dev/other", *p.Config.Linux.Devices[0].Path)
				assert.Equal(t, "/dev/other", *p.Settings.Devices[0].Path)
			},
		},
		{
			name: "args split at single spaces",
			args: []string{"args=foo  bar baz"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{"foo", "", "bar", "baz"}, p.Settings.Args)
				assert.Equal(t, []string{"--default"}, p.Config.Args.Value)
			},
		},
		{
			name: "empty args value gives one empty arg",
			args: []string{"args="},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, []string{""}, p.Settings.Args)
			},
		},
		{
			name: "several in order",
			args: []string{"DEBUG=1", "DEBUG=2", "state=/a", "args=x"},
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, "DEBUG=2", p.Settings.Env[0])
				assert.Equal(t, "/a", *p.Settings.Mounts[0].Source)
				assert.Equal(t, []string{"x"}, p.Settings.Args)
			},
		},
		{
			name: "no arguments",
			args: nil,
			check: func(t *testing.T, p *plugin.Plugin) {
				assert.Equal(t, setPlugin().Settings.Env, p.Settings.Env)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setPlugin()
			require.NoError(t, Set(p, tt.args))
			tt.check(t, p)
		})
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     string
		sentinel error
	}{
		{"leading =", []string{"=1"}, "invalid format, must be <name>[.<field>][=<value>]", ErrSetFormat},
		{"leading = after a good one", []string{"DEBUG=1", "=x"}, "invalid format, must be <name>[.<field>][=<value>]", ErrSetFormat},
		{"multiple fields", []string{"TWO=1"}, "multiple fields are settable, one must be specified", ErrSetMultipleFields},
		{"not settable", []string{"FIXED=2"}, `"FIXED" is not settable`, nil},
		{"not settable with field", []string{"FIXED.value=2"}, `"FIXED.value" is not settable`, nil},
		{"field not allowed for env, default shown", []string{"WRONG=x"}, `"WRONG.source" is not settable`, nil},
		{"field not in Settable", []string{"TWO.path=x"}, `"TWO.path" is not settable`, nil},
		{"wrong field for mount", []string{"state.value=/x"}, `"state.value" is not settable`, nil},
		{"mount not settable", []string{"fixed=/x"}, `"fixed" is not settable`, nil},
		{"null mount source", []string{"nosource=/x"}, "plugin config has no mount source", ErrNoMountSource},
		{"null device path", []string{"nopath=/dev/x"}, "plugin config has no device path", ErrNoDevicePath},
		{"unknown", []string{"NOPE=1"}, `setting "NOPE" not found in the plugin configuration`, nil},
		{"unknown with field", []string{"NOPE.value=1"}, `setting "NOPE" not found in the plugin configuration`, nil},
		{"leading dot is part of the name", []string{".value=1"}, `setting ".value" not found in the plugin configuration`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Set(setPlugin(), tt.args)
			require.Error(t, err)
			assert.EqualError(t, err, tt.want)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel)
			}
		})
	}
}

func TestSetAtomic(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"late unknown name", []string{"DEBUG=1", "state=/new", "fuse=/dev/new", "args=a b", "NOPE=1"}},
		{"late null source", []string{"DEBUG=1", "state=/new", "nosource=/x"}},
		{"late format error", []string{"DEBUG=1", "fuse=/dev/new", "=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setPlugin()
			// Keep the pointers Docker would write through, to see that
			// they are not written either.
			source := p.Config.Mounts[0].Source
			path := p.Config.Linux.Devices[0].Path
			before, err := json.Marshal(p)
			require.NoError(t, err)

			require.Error(t, Set(p, tt.args))

			after, err := json.Marshal(p)
			require.NoError(t, err)
			assert.JSONEq(t, string(before), string(after))
			assert.Same(t, source, p.Config.Mounts[0].Source)
			assert.Equal(t, "/var/lib/x", *source)
			assert.Equal(t, "/dev/fuse", *path)
		})
	}
}

func TestSetDoesNotWriteThroughSharedPointers(t *testing.T) {
	// A plugin loaded the Docker way, with settings sharing the config's
	// pointers; Set must not write through them into values it does not own.
	p := setPlugin()
	p.Settings.Mounts[0].Source = p.Config.Mounts[0].Source
	old := p.Config.Mounts[0].Source

	require.NoError(t, Set(p, []string{"state=/new"}))
	assert.Equal(t, "/var/lib/x", *old)
	assert.Equal(t, "/new", *p.Config.Mounts[0].Source)
	assert.Equal(t, "/new", *p.Settings.Mounts[0].Source)
}

func TestSetKeepsNullLists(t *testing.T) {
	p := &plugin.Plugin{Config: plugin.Config{Env: []plugin.Env{{Name: "A", Settable: []string{"value"}}}}}
	require.NoError(t, Set(p, []string{"A=1"}))
	assert.Equal(t, []string{"A=1"}, p.Settings.Env)
	assert.Nil(t, p.Config.Mounts)
	assert.Nil(t, p.Settings.Mounts)
}

func TestErrSetActive(t *testing.T) {
	assert.EqualError(t, ErrSetActive, "cannot set on an active plugin, disable plugin before setting")
	assert.True(t, errors.Is(ErrSetActive, ErrSetActive))
}

func TestSetBounds(t *testing.T) {
	atLimit := strings.Repeat("v", MaxSettingValue)
	tests := []struct {
		name string
		args []string
		want string // "" for no error
	}{
		{name: "value at the limit", args: []string{"DEBUG=" + atLimit}},
		{name: "value over the limit", args: []string{"DEBUG=" + atLimit + "v"}, want: `setting "DEBUG": value of 32769 bytes, over the 32KiB limit`},
		{name: "NUL in an env value", args: []string{"DEBUG=1\x00rm -rf"}, want: `setting "DEBUG": value contains a NUL byte`},
		{name: "NUL in a mount source", args: []string{"state=/x\x00y"}, want: `setting "state": value contains a NUL byte`},
		{name: "NUL in the args", args: []string{"args=a\x00 b"}, want: `setting "args": value contains a NUL byte`},
		{name: "NUL in a name", args: []string{"DE\x00BUG=1"}, want: `setting name "DE\x00BUG": contains a NUL byte`},
		{name: "name over the limit", args: []string{strings.Repeat("N", MaxSettingName+1) + "=1"}, want: "setting name of 257 bytes, over the 256-byte limit"},
		{name: "args at the limit", args: []string{"args=" + strings.Repeat("a ", MaxArgs-1) + "a"}},
		{name: "args over the limit", args: []string{"args=" + strings.Repeat("a ", MaxArgs)}, want: `setting "args": 1025 args, over the limit of 1024`},
		{name: "too many arguments", args: slices.Repeat([]string{"DEBUG=1"}, MaxSetArgs+1), want: "129 settings in one set, over the limit of 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setPlugin()
			before, err := json.Marshal(p)
			require.NoError(t, err)
			err = Set(p, tt.args)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
			after, err := json.Marshal(p)
			require.NoError(t, err)
			assert.JSONEq(t, string(before), string(after), "a refused set changes nothing")
		})
	}
}

// TestSetBoundsTotal: values each under their bound still may not add up
// past MaxSettingsSize, but a plugin already past it (from its config) can
// be set to smaller values.
func TestSetBoundsTotal(t *testing.T) {
	const n = MaxSettingsSize/MaxSettingValue + 1
	c := plugin.Config{}
	var args []string
	for i := range n {
		name := fmt.Sprintf("E%d", i)
		c.Env = append(c.Env, plugin.Env{Name: name, Settable: []string{"value"}, Value: ptr("")})
		args = append(args, name+"="+strings.Repeat("v", MaxSettingValue-16)) // 8 fit with their names
	}
	p := &plugin.Plugin{Config: c, Settings: InitialSettings(c)}
	require.NoError(t, Set(p, args[:n-1]), "under the total")
	err := Set(p, args[n-1:])
	assert.ErrorContains(t, err, "over the 256KiB limit")
	assert.Equal(t, "E8=", p.Settings.Env[n-1], "a refused set changes nothing")

	for i := range n {
		c.Env[i].Value = ptr(strings.Repeat("v", MaxSettingValue))
	}
	big := &plugin.Plugin{Config: c, Settings: InitialSettings(c)}
	assert.NoError(t, Set(big, []string{"E0=small"}), "shrinking a config that starts over the total")
	assert.ErrorContains(t, Set(big, []string{"E0=" + strings.Repeat("v", MaxSettingValue)}), "over the 256KiB limit", "growing it back is refused")
}
