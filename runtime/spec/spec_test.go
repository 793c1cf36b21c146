package spec_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/runtime/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// dockerDefaultCaps are the 14 capabilities Docker gives every plugin
// (daemon/pkg/oci/caps/defaults.go), in Docker's order.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// defaultMountDests are the destinations of DefaultLinuxSpec's mounts, in order.
var defaultMountDests = []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}

func ptr[T any](v T) *T { return &v }

var testPaths = spec.Paths{
	Rootfs:          "/data/plugins/" + testID + "/rootfs",
	PropagatedMount: "/data/plugins/" + testID + "/propagated-mount",
	SocketDir:       "/exec/plugins/" + testID,
	CgroupParent:    "/plugdbg",
}

func minimalPlugin() plugin.Plugin {
	return plugin.Plugin{
		ID:   testID,
		Name: "test/plugin:latest",
		Config: plugin.Config{
			Entrypoint: []string{"/bin/plugin"},
			Interface:  plugin.Interface{Socket: "p.sock", Types: []plugin.CapabilityID{{Prefix: "docker", Capability: "volumedriver", Version: "1.0"}}},
		},
	}
}

func build(t *testing.T, p plugin.Plugin) *specs.Spec {
	t.Helper()
	s, err := spec.Build(p, testPaths)
	require.NoError(t, err)
	require.NotNil(t, s.Linux)
	require.NotNil(t, s.Process)
	return s
}

func namespaceTypes(t *testing.T, s *specs.Spec) []specs.LinuxNamespaceType {
	t.Helper()
	var out []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		assert.Empty(t, ns.Path, "namespace %s must be new, not joined", ns.Type)
		out = append(out, ns.Type)
	}
	return out
}

func mountDests(ms []specs.Mount) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Destination)
	}
	return out
}

func TestBuildNamespaces(t *testing.T) {
	tests := []struct {
		name    string
		network string
		pidHost bool
		ipcHost bool
		want    []specs.LinuxNamespaceType
	}{
		{
			name: "defaults",
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.PIDNamespace, specs.IPCNamespace},
		},
		{
			name: "network bridge keeps a private netns", network: "bridge",
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.PIDNamespace, specs.IPCNamespace},
		},
		{
			name: "network host", network: "host",
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace},
		},
		{
			name: "pid host", pidHost: true,
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.IPCNamespace},
		},
		{
			name: "ipc host", ipcHost: true,
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.PIDNamespace},
		},
		{
			name: "all host", network: "host", pidHost: true, ipcHost: true,
			want: []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			p.Config.Network.Type = tt.network
			p.Config.PidHost = tt.pidHost
			p.Config.IpcHost = tt.ipcHost
			s := build(t, p)
			assert.ElementsMatch(t, tt.want, namespaceTypes(t, s))
			// Docker creates neither a user nor a cgroup namespace for plugins.
			assert.NotContains(t, namespaceTypes(t, s), specs.UserNamespace)
			assert.NotContains(t, namespaceTypes(t, s), specs.CgroupNamespace)
		})
	}
}

func TestBuildCapabilities(t *testing.T) {
	tests := []struct {
		name          string
		requested     []string
		wantEffective []string
	}{
		{name: "none requested", requested: nil, wantEffective: dockerDefaultCaps},
		{
			name: "one requested", requested: []string{"CAP_SYS_ADMIN"},
			wantEffective: append(append([]string{}, dockerDefaultCaps...), "CAP_SYS_ADMIN"),
		},
		{
			name: "two requested, one a default", requested: []string{"CAP_SYS_ADMIN", "CAP_CHOWN"},
			wantEffective: append(append([]string{}, dockerDefaultCaps...), "CAP_SYS_ADMIN"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			p.Config.Linux.Capabilities = tt.requested
			s := build(t, p)
			c := s.Process.Capabilities
			require.NotNil(t, c)
			assert.Equal(t, tt.wantEffective, c.Bounding, "bounding")
			assert.Equal(t, tt.wantEffective, c.Permitted, "permitted")
			assert.Equal(t, tt.wantEffective, c.Effective, "effective")
			assert.ElementsMatch(t, tt.requested, c.Inheritable, "inheritable is the requested set only")
			assert.Empty(t, c.Ambient, "no ambient capabilities")
		})
	}
}

func TestBuildProcess(t *testing.T) {
	tests := []struct {
		name     string
		config   func(*plugin.Config)
		settings plugin.Settings
		wantArgs []string
		wantEnv  []string
		wantCwd  string
		wantUser specs.User
	}{
		{
			name:     "minimal",
			config:   func(*plugin.Config) {},
			wantArgs: []string{"/bin/plugin"},
			wantEnv:  []string{spec.DefaultPath},
			wantCwd:  "/",
		},
		{
			name: "entrypoint, args, env, workdir and user",
			config: func(c *plugin.Config) {
				c.Entrypoint = []string{"/bin/plugin", "--listen"}
				c.WorkDir = "/srv"
				c.User = plugin.User{UID: 1000, GID: 100}
			},
			settings: plugin.Settings{Args: []string{"--debug", "x y"}, Env: []string{"DEBUG=1", "PATH=/mine"}},
			wantArgs: []string{"/bin/plugin", "--listen", "--debug", "x y"},
			wantEnv:  []string{spec.DefaultPath, "DEBUG=1", "PATH=/mine"},
			wantCwd:  "/srv",
			wantUser: specs.User{UID: 1000, GID: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			tt.config(&p.Config)
			p.Settings = tt.settings
			s := build(t, p)
			assert.Equal(t, tt.wantArgs, s.Process.Args)
			assert.Equal(t, tt.wantEnv, s.Process.Env)
			assert.Equal(t, tt.wantCwd, s.Process.Cwd)
			assert.Equal(t, tt.wantUser, s.Process.User)
			assert.False(t, s.Process.Terminal)
			assert.Equal(t, testPaths.Rootfs, s.Root.Path)
			assert.False(t, s.Root.Readonly, "Docker's plugin rootfs is writable")
		})
	}
	assert.Equal(t, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", spec.DefaultPath)
}

// TestBuildDoesNotAliasInput checks that the spec shares no slice with the
// plugin, so that a caller may change either afterwards.
func TestBuildDoesNotAliasInput(t *testing.T) {
	p := minimalPlugin()
	p.Config.Entrypoint = make([]string, 1, 10)
	p.Config.Entrypoint[0] = "/bin/plugin"
	p.Config.Linux.Capabilities = []string{"CAP_SYS_ADMIN"}
	p.Config.Mounts = []plugin.Mount{{Source: ptr("/src"), Destination: "/dst", Type: "bind", Options: []string{"rbind"}}}
	p.Settings.Args = []string{"--a"}
	s := build(t, p)

	s.Process.Args[0] = "changed"
	s.Process.Capabilities.Inheritable[0] = "changed"
	s.Mounts[len(defaultMountDests)].Options[0] = "changed"
	assert.Equal(t, "/bin/plugin", p.Config.Entrypoint[0])
	assert.Equal(t, "CAP_SYS_ADMIN", p.Config.Linux.Capabilities[0])
	assert.Equal(t, "rbind", p.Config.Mounts[0].Options[0])
}

// TestBuildSpecsAreIndependent checks that changing one built spec changes
// neither another part of it nor later specs.
func TestBuildSpecsAreIndependent(t *testing.T) {
	first := build(t, minimalPlugin())
	want, err := json.Marshal(build(t, minimalPlugin()))
	require.NoError(t, err)

	first.Linux.MaskedPaths[0] = "changed"
	first.Linux.ReadonlyPaths[0] = "changed"
	first.Process.Capabilities.Bounding[0] = "changed"
	first.Mounts[0].Options[0] = "changed"
	first.Linux.Resources.Devices[1].Access = "r"
	*first.Linux.Resources.Devices[1].Major = 99

	assert.Equal(t, dockerDefaultCaps[0], first.Process.Capabilities.Effective[0], "effective shares bounding's array")
	assert.Equal(t, dockerDefaultCaps[0], first.Process.Capabilities.Permitted[0], "permitted shares bounding's array")
	again, err := json.Marshal(build(t, minimalPlugin()))
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(again), "a later Build sees changes made to an earlier spec")
}

func TestBuildMounts(t *testing.T) {
	bind := func(src, dst string, opts ...string) specs.Mount {
		return specs.Mount{Source: src, Destination: dst, Type: "bind", Options: opts}
	}
	socketMount := bind(testPaths.SocketDir, "/run/docker/plugins", "rbind", "rshared")
	propMount := bind(testPaths.PropagatedMount, "/mnt/volumes", "rbind", "rw", "rshared")
	etcMounts := []specs.Mount{
		bind("/etc/hosts", "/etc/hosts", "rbind", "ro"),
		bind("/etc/resolv.conf", "/etc/resolv.conf", "rbind", "ro"),
	}
	configMounts := []plugin.Mount{
		{Name: "state", Source: ptr("/var/lib/state"), Destination: "/state", Type: "bind", Options: []string{"rbind", "ro"}},
		{Name: "tmp", Source: ptr("none"), Destination: "/scratch", Type: "tmpfs", Options: []string{"size=1m"}},
	}
	wantConfigMounts := []specs.Mount{
		bind("/var/lib/state", "/state", "rbind", "ro"),
		{Source: "none", Destination: "/scratch", Type: "tmpfs", Options: []string{"size=1m"}},
	}

	tests := []struct {
		name            string
		config          func(*plugin.Config)
		wantAfter       []specs.Mount // the mounts after the defaults
		wantPropagation string
	}{
		{
			name:      "minimal: socket dir only",
			config:    func(*plugin.Config) {},
			wantAfter: []specs.Mount{socketMount},
		},
		{
			name:            "propagated mount",
			config:          func(c *plugin.Config) { c.PropagatedMount = "/mnt/volumes" },
			wantAfter:       []specs.Mount{propMount, socketMount},
			wantPropagation: "rshared",
		},
		{
			name:      "config mounts verbatim",
			config:    func(c *plugin.Config) { c.Mounts = configMounts },
			wantAfter: append(append([]specs.Mount{}, wantConfigMounts...), socketMount),
		},
		{
			name:      "network host binds hosts and resolv.conf",
			config:    func(c *plugin.Config) { c.Network.Type = "host" },
			wantAfter: append([]specs.Mount{socketMount}, etcMounts...),
		},
		{
			name:      "network bridge binds hosts and resolv.conf",
			config:    func(c *plugin.Config) { c.Network.Type = "bridge" },
			wantAfter: append([]specs.Mount{socketMount}, etcMounts...),
		},
		{
			name: "everything, in Docker's order",
			config: func(c *plugin.Config) {
				c.PropagatedMount = "/mnt/volumes"
				c.Mounts = configMounts
				c.Network.Type = "host"
			},
			wantAfter:       append(append(append([]specs.Mount{propMount}, wantConfigMounts...), socketMount), etcMounts...),
			wantPropagation: "rshared",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			tt.config(&p.Config)
			s := build(t, p)
			require.GreaterOrEqual(t, len(s.Mounts), len(defaultMountDests))
			assert.Equal(t, defaultMountDests, mountDests(s.Mounts[:len(defaultMountDests)]))
			assert.Equal(t, tt.wantAfter, s.Mounts[len(defaultMountDests):])
			assert.Equal(t, tt.wantPropagation, s.Linux.RootfsPropagation)
		})
	}
}

func TestBuildMountWithoutSource(t *testing.T) {
	p := minimalPlugin()
	p.Config.Mounts = []plugin.Mount{
		{Name: "ok", Source: ptr("/x"), Destination: "/x", Type: "bind"},
		{Name: "unset", Destination: "/y", Type: "bind", Settable: []string{"source"}},
	}
	s, err := spec.Build(p, testPaths)
	require.Error(t, err)
	assert.Nil(t, s)
	assert.ErrorIs(t, err, spec.ErrNoMountSource)
	assert.Contains(t, err.Error(), "unset")
	assert.Contains(t, err.Error(), "mount source is not specified")
}

func TestBuildDevMountFiltering(t *testing.T) {
	tests := []struct {
		name     string
		mounts   []plugin.Mount
		wantDest []string // all destinations, in order
		wantShm  *specs.Mount
	}{
		{
			name:     "a plugin mount to /dev/shm replaces the default",
			mounts:   []plugin.Mount{{Name: "shm", Source: ptr("/host/shm"), Destination: "/dev/shm", Type: "bind", Options: []string{"rbind"}}},
			wantDest: []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/run/docker/plugins"},
			wantShm:  &specs.Mount{Source: "/host/shm", Destination: "/dev/shm", Type: "bind", Options: []string{"rbind"}},
		},
		{
			// Docker's in-place delete while ranging skips the element after
			// each deletion, so there the plugin's /dev/shm survives only as
			// the first mount after the defaults; here, with a mount before
			// it, Docker would drop both /dev/shm mounts. plugdbg keeps the
			// plugin's.
			name: "the replacement keeps the plugin mount's place after other config mounts",
			mounts: []plugin.Mount{
				{Name: "a", Source: ptr("/a"), Destination: "/a", Type: "bind"},
				{Name: "shm", Source: ptr("/host/shm"), Destination: "/dev/shm", Type: "bind", Options: []string{"rbind"}},
			},
			wantDest: []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/a", "/dev/shm", "/run/docker/plugins"},
			wantShm:  &specs.Mount{Source: "/host/shm", Destination: "/dev/shm", Type: "bind", Options: []string{"rbind"}},
		},
		{
			name:     "a plugin mount to /dev/fuse is dropped",
			mounts:   []plugin.Mount{{Name: "fuse", Source: ptr("/dev/fuse"), Destination: "/dev/fuse", Type: "bind", Options: []string{"rbind"}}},
			wantDest: []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/run/docker/plugins"},
			wantShm:  &specs.Mount{Source: "shm", Destination: "/dev/shm", Type: "tmpfs", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		},
		{
			name:     "a plugin mount to /dev itself is kept",
			mounts:   []plugin.Mount{{Name: "dev", Source: ptr("/dev"), Destination: "/dev", Type: "bind", Options: []string{"rbind"}}},
			wantDest: []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/dev", "/run/docker/plugins"},
			wantShm:  &specs.Mount{Source: "shm", Destination: "/dev/shm", Type: "tmpfs", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			p.Config.Mounts = tt.mounts
			s := build(t, p)
			assert.Equal(t, tt.wantDest, mountDests(s.Mounts))
			var shm []specs.Mount
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					shm = append(shm, m)
				}
			}
			require.Len(t, shm, 1)
			assert.Equal(t, *tt.wantShm, shm[0])
		})
	}
}

func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	allow := func(major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(major), Minor: ptr(minor), Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		allow(1, 3), allow(1, 5), allow(1, 8), allow(1, 9), allow(5, 0), allow(5, 1),
		{Allow: false, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rwm"},
	}
}

func TestBuildDevices(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip("no /dev/null on this host")
	}
	nullRule := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"}
	tests := []struct {
		name        string
		allowAll    bool
		devices     []string
		wantRules   []specs.LinuxDeviceCgroup
		wantDevices []string // paths of linux.devices
	}{
		{name: "defaults", wantRules: defaultDeviceRules()},
		{
			name: "allow all devices", allowAll: true,
			wantRules: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
		},
		{
			name: "/dev/null", devices: []string{"/dev/null"},
			wantRules:   append(defaultDeviceRules(), nullRule),
			wantDevices: []string{"/dev/null"},
		},
		{
			name: "allow all devices and /dev/null", allowAll: true, devices: []string{"/dev/null"},
			wantRules:   []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, nullRule},
			wantDevices: []string{"/dev/null"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			p.Config.Linux.AllowAllDevices = tt.allowAll
			for _, d := range tt.devices {
				p.Settings.Devices = append(p.Settings.Devices, plugin.Device{Name: "dev", Path: ptr(d)})
			}
			s := build(t, p)
			require.NotNil(t, s.Linux.Resources)
			assert.Equal(t, tt.wantRules, s.Linux.Resources.Devices)
			var paths []string
			for _, d := range s.Linux.Devices {
				paths = append(paths, d.Path)
			}
			assert.Equal(t, tt.wantDevices, paths)
		})
	}

	t.Run("/dev/null node", func(t *testing.T) {
		p := minimalPlugin()
		p.Settings.Devices = []plugin.Device{{Name: "null", Path: ptr("/dev/null")}}
		s := build(t, p)
		require.Len(t, s.Linux.Devices, 1)
		d := s.Linux.Devices[0]
		assert.Equal(t, "c", d.Type)
		assert.Equal(t, int64(1), d.Major)
		assert.Equal(t, int64(3), d.Minor)
		require.NotNil(t, d.FileMode)
		require.NotNil(t, d.UID)
		require.NotNil(t, d.GID)
	})
}

func TestBuildDeviceErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-device")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	emptyDir := t.TempDir()

	tests := []struct {
		name string
		path *string
		want []string
	}{
		{name: "regular file", path: ptr(file), want: []string{"error gathering device information", file}},
		{name: "missing path", path: ptr(filepath.Join(emptyDir, "missing")), want: []string{"error gathering device information"}},
		{name: "directory without devices", path: ptr(emptyDir), want: []string{"error gathering device information", emptyDir}},
		{name: "nil path", path: nil, want: []string{`"fuse"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := minimalPlugin()
			p.Settings.Devices = []plugin.Device{{Name: "fuse", Path: tt.path}}
			s, err := spec.Build(p, testPaths)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestBuildCgroupsPath(t *testing.T) {
	tests := []struct {
		name   string
		parent string
		want   string
	}{
		{name: "default parent", parent: "/plugdbg", want: "/plugdbg/" + testID},
		{name: "nested parent", parent: "/system.slice/plugdbg", want: "/system.slice/plugdbg/" + testID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths := testPaths
			paths.CgroupParent = tt.parent
			s, err := spec.Build(minimalPlugin(), paths)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Linux.CgroupsPath)
		})
	}
}

// richPlugin uses every field that changes the spec, except host devices,
// whose details depend on the machine.
func richPlugin() plugin.Plugin {
	return plugin.Plugin{
		ID:   testID,
		Name: "vieux/sshfs:latest",
		Config: plugin.Config{
			Description: "sshFS plugin for Docker",
			Entrypoint:  []string{"/docker-volume-sshfs", "--verbose"},
			WorkDir:     "/work",
			User:        plugin.User{UID: 1, GID: 2},
			Interface:   plugin.Interface{Socket: "sshfs.sock", Types: []plugin.CapabilityID{{Prefix: "docker", Capability: "volumedriver", Version: "1.0"}}},
			Network:     plugin.NetworkConfig{Type: "host"},
			PidHost:     true,
			Linux: plugin.LinuxConfig{
				Capabilities:    []string{"CAP_SYS_ADMIN"},
				AllowAllDevices: true,
			},
			PropagatedMount: "/mnt/volumes",
			Mounts: []plugin.Mount{
				{Name: "state", Source: ptr("/var/lib/docker/plugins/"), Destination: "/mnt/state", Type: "bind", Options: []string{"rbind"}},
				{Name: "shm", Source: ptr("/run/shm"), Destination: "/dev/shm", Type: "bind", Options: []string{"rbind", "rw"}},
				{Name: "fuse", Source: ptr("/dev/fuse"), Destination: "/dev/fuse", Type: "bind", Options: []string{"rbind"}},
			},
		},
		Settings: plugin.Settings{
			Args: []string{"--root", "/mnt/volumes"},
			Env:  []string{"DEBUG=1", "SSH_KEY="},
		},
	}
}

func TestBuildGolden(t *testing.T) {
	s, err := spec.Build(richPlugin(), testPaths)
	require.NoError(t, err)
	got, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')

	golden := filepath.Join("testdata", "rich.spec.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create the golden file")
	if !bytes.Equal(want, got) {
		assert.Equal(t, string(want), string(got), "spec differs from %s (run go test -update if the change is intended)", golden)
	}
}
