// Package spec builds the OCI runtime spec of an enabled plugin, following
// what moby's plugin manager generates (daemon/pkg/plugin/v2/plugin_linux.go).
package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/sys/devices"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SocketDirInPlugin is where the plugin sees its socket directory, as in Docker.
const SocketDirInPlugin = "/run/docker/plugins"

// DefaultPath is the PATH every plugin starts with, as in Docker.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultCapabilities are the capabilities Docker grants every plugin.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Paths are the host-side locations a plugin's spec refers to.
type Paths struct {
	Rootfs          string // <data-root>/plugins/<id>/rootfs
	PropagatedMount string // <data-root>/plugins/<id>/propagated-mount
	SocketDir       string // <exec-root>/plugins/<id>
	CgroupParent    string // absolute cgroup parent, e.g. /plugdbg
}

// ErrNoMountSource is Docker's error for a mount whose source was never set.
var ErrNoMountSource = errors.New("mount source is not specified")

// Build returns the OCI spec for plugin p. It does not touch the host.
func Build(p plugin.Plugin, paths Paths) (*specs.Spec, error) {
	c := p.Config
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: paths.Rootfs},
		Hostname: "",
		Process: &specs.Process{
			Args: append(append([]string{}, c.Entrypoint...), p.Settings.Args...),
			Env:  append([]string{DefaultPath}, p.Settings.Env...),
			Cwd:  "/",
			// Docker ignores config.json's User and runs plugins as root; plugdbg
			// honours it because plugin authors who set it mean it.
			User: specs.User{UID: c.User.UID, GID: c.User.GID},
		},
		Mounts: defaultMounts(),
		Linux: &specs.Linux{
			Namespaces:    namespaces(c),
			MaskedPaths:   slices.Clone(maskedPaths),
			ReadonlyPaths: slices.Clone(readonlyPaths),
			CgroupsPath:   filepath.Join(paths.CgroupParent, p.ID),
			Resources:     &specs.LinuxResources{Devices: defaultDeviceRules()},
		},
	}
	if c.WorkDir != "" {
		s.Process.Cwd = c.WorkDir
	}
	caps := capabilities(c.Linux.Capabilities)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: caps, Permitted: slices.Clone(caps), Effective: slices.Clone(caps),
		Inheritable: append([]string{}, c.Linux.Capabilities...),
	}

	if c.PropagatedMount != "" {
		s.Mounts = append(s.Mounts, specs.Mount{
			Source: paths.PropagatedMount, Destination: c.PropagatedMount,
			Type: "bind", Options: []string{"rbind", "rw", "rshared"},
		})
		s.Linux.RootfsPropagation = "rshared"
	}
	for i, m := range c.Mounts {
		if m.Source == nil {
			return nil, fmt.Errorf("Mounts[%d] %q: %w", i, m.Name, ErrNoMountSource)
		}
		s.Mounts = append(s.Mounts, specs.Mount{
			Source: *m.Source, Destination: m.Destination, Type: m.Type,
			Options: append([]string{}, m.Options...),
		})
	}
	s.Mounts = append(s.Mounts, specs.Mount{
		Source: paths.SocketDir, Destination: SocketDirInPlugin,
		Type: "bind", Options: []string{"rbind", "rshared"},
	})
	if c.Network.Type != "" {
		for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
			s.Mounts = append(s.Mounts, specs.Mount{Source: f, Destination: f, Type: "bind", Options: []string{"rbind", "ro"}})
		}
	}
	s.Mounts = dropShadowedDevMounts(s.Mounts, c.Mounts)

	if c.Linux.AllowAllDevices {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	for _, d := range p.Settings.Devices {
		if d.Path == nil {
			return nil, fmt.Errorf("device %q: no path set", d.Name)
		}
		devs, rules, err := devicesFromPath(*d.Path)
		if err != nil {
			return nil, fmt.Errorf("error gathering device information while adding custom device %q: %w", *d.Path, err)
		}
		s.Linux.Devices = append(s.Linux.Devices, devs...)
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
	}
	return s, nil
}

func namespaces(c plugin.Config) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
	if c.Network.Type != "host" {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	if !c.PidHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if !c.IpcHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	return ns
}

func capabilities(extra []string) []string {
	caps := append([]string{}, defaultCapabilities...)
	for _, c := range extra {
		if !contains(caps, c) {
			caps = append(caps, c)
		}
	}
	return caps
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// dropShadowedDevMounts mirrors Docker: a plugin mount under /dev/ only
// survives when it replaces one of the default /dev mounts; device nodes
// belong in Linux.Devices.
func dropShadowedDevMounts(all []specs.Mount, pluginMounts []plugin.Mount) []specs.Mount {
	isPluginDev := map[string]bool{}
	for _, m := range pluginMounts {
		if strings.HasPrefix(m.Destination, "/dev/") {
			isPluginDev[m.Destination] = true
		}
	}
	if len(isPluginDev) == 0 {
		return all
	}
	defaults := map[string]bool{}
	for _, m := range defaultMounts() {
		defaults[m.Destination] = true
	}
	var out []specs.Mount
	seen := map[string]bool{}
	for i, m := range all {
		if !isPluginDev[m.Destination] {
			out = append(out, m)
			continue
		}
		if !defaults[m.Destination] {
			continue // Docker drops plugin mounts to new /dev/ paths
		}
		if i < len(defaultMounts()) {
			continue // the plugin's own mount replaces the default
		}
		if !seen[m.Destination] {
			seen[m.Destination] = true
			out = append(out, m)
		}
	}
	return out
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

func ptr[T any](v T) *T { return &v }

func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(major), Minor: ptr(minor), Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(1, 3), rule(1, 5), rule(1, 8), rule(1, 9), rule(5, 0), rule(5, 1),
		{Allow: false, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rwm"},
	}
}

// devicesFromPath resolves a host path to device nodes the way Docker does:
// a device node, a symlink to one, or a directory searched recursively.
func devicesFromPath(path string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, nil, err
	}
	var found []*specsDevice
	if d, err := devices.DeviceFromPath(resolved, "rwm"); err == nil {
		found = append(found, &specsDevice{path: path, d: d})
	} else if !errors.Is(err, devices.ErrNotADevice) {
		return nil, nil, err
	} else {
		st, err := os.Stat(resolved)
		if err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("%s is not a device node or a directory of device nodes", path)
		}
		list, err := devices.GetDevices(resolved)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range list {
			found = append(found, &specsDevice{path: d.Path, d: d})
		}
		if len(found) == 0 {
			return nil, nil, fmt.Errorf("no device nodes under %s", path)
		}
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	for _, f := range found {
		d := f.d
		mode := d.FileMode
		devs = append(devs, specs.LinuxDevice{
			Path: f.path, Type: string(d.Type), Major: d.Major, Minor: d.Minor,
			FileMode: &mode, UID: ptr(d.Uid), GID: ptr(d.Gid),
		})
		rules = append(rules, specs.LinuxDeviceCgroup{
			Allow: true, Type: string(d.Type), Major: ptr(d.Major), Minor: ptr(d.Minor), Access: "rwm",
		})
	}
	return devs, rules, nil
}

type specsDevice struct {
	path string // the path the plugin sees
	d    *devconfig.Device
}
