package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func capID(s string) plugin.CapabilityID {
	var id plugin.CapabilityID
	_ = id.UnmarshalText([]byte(s))
	return id
}

// validConfig returns a config that passes Validate, to be broken one rule
// at a time.
func validConfig() plugin.Config {
	return plugin.Config{
		Entrypoint: []string{"/plugin"},
		Interface: plugin.Interface{
			Types:  []plugin.CapabilityID{capID("docker.volumedriver/1.0")},
			Socket: "p.sock",
		},
		Env:    []plugin.Env{{Name: "DEBUG", Settable: []string{"value"}, Value: ptr("0")}},
		Args:   plugin.Args{Name: "args", Settable: []string{"value"}},
		Mounts: []plugin.Mount{{Name: "state", Destination: "/state", Type: "bind", Source: ptr("/var/lib/x"), Settable: []string{"source"}}},
		Linux: plugin.LinuxConfig{
			Capabilities: []string{"CAP_SYS_ADMIN"},
			Devices:      []plugin.Device{{Name: "fuse", Path: ptr("/dev/fuse"), Settable: []string{"path"}}},
		},
	}
}

func TestValidateValid(t *testing.T) {
	assert.NoError(t, Validate(validConfig()))

	c := validConfig()
	c.Interface.ProtocolScheme = ProtocolSchemeHTTPV1
	c.Interface.Socket = strings.Repeat("s", MaxSocketNameLen)
	c.Mounts[0].Source = nil // settable, so it may be set before enable
	c.Linux.Devices[0].Path = nil
	c.WorkDir = "/work"
	c.PropagatedMount = "/mnt/volumes"
	for _, typ := range []string{"", "host", "bridge", "none", "null"} {
		c.Network.Type = typ
		assert.NoError(t, Validate(c), "network type %q", typ)
	}
	for _, typ := range []string{"networkdriver", "ipamdriver", "authz", "logdriver", "metricscollector", "csinode", "csicontroller"} {
		c.Interface.Types = []plugin.CapabilityID{capID("docker." + typ + "/1.0")}
		assert.NoError(t, Validate(c), "type %q", typ)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *plugin.Config)
		want   string
	}{
		{"empty entrypoint", func(c *plugin.Config) { c.Entrypoint = nil }, "Entrypoint: must not be empty"},
		{"empty program", func(c *plugin.Config) { c.Entrypoint = []string{""} }, "Entrypoint[0]: program must not be empty"},
		{"no types", func(c *plugin.Config) { c.Interface.Types = nil }, "Interface.Types: must declare at least one type"},
		{
			"wrong prefix",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("moby.volumedriver/1.0")} },
			`Interface.Types[0] "moby.volumedriver/1.0": prefix "moby": must be "docker"`,
		},
		{
			"no prefix",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("volumedriver/1.0")} },
			`prefix "": must be "docker"`,
		},
		{
			"unknown capability",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("docker.foodriver/1.0")} },
			`Interface.Types[0] "docker.foodriver/1.0": unknown capability "foodriver" (known: volumedriver, networkdriver, ipamdriver, authz, logdriver, metricscollector, csinode, csicontroller)`,
		},
		{
			"upper-case capability",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("docker.VolumeDriver/1.0")} },
			`Docker matches capabilities in lower case, use "volumedriver"`,
		},
		{
			"graph driver",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("docker.graphdriver/1.0")} },
			`Interface.Types[0] "docker.graphdriver/1.0": capability "graphdriver" is not supported: Docker removed graph driver plugins`,
		},
		{
			"no version",
			func(c *plugin.Config) { c.Interface.Types = []plugin.CapabilityID{capID("docker.volumedriver")} },
			`Interface.Types[0] "docker.volumedriver/": version must not be empty (use "1.0")`,
		},
		{"no socket", func(c *plugin.Config) { c.Interface.Socket = "" }, "Interface.Socket: must not be empty"},
		{"socket path", func(c *plugin.Config) { c.Interface.Socket = "run/p.sock" }, `Interface.Socket "run/p.sock": must be a plain file name, not a path`},
		{"socket dot", func(c *plugin.Config) { c.Interface.Socket = "." }, `Interface.Socket ".": must be a plain file name`},
		{"socket dot dot", func(c *plugin.Config) { c.Interface.Socket = ".." }, `Interface.Socket "..": must be a plain file name`},
		{"socket NUL", func(c *plugin.Config) { c.Interface.Socket = "p\x00.sock" }, `Interface.Socket "p\x00.sock": must not contain a NUL byte`},
		{
			"socket too long",
			func(c *plugin.Config) { c.Interface.Socket = strings.Repeat("s", MaxSocketNameLen+1) },
			"23 bytes is too long, at most 22: on the host the socket is /run/docker/plugins/<64-hex id>/<Socket>, whose directory takes 85 of the 107 usable bytes",
		},
		{"protocol", func(c *plugin.Config) { c.Interface.ProtocolScheme = "grpc" }, `Interface.ProtocolScheme "grpc": unknown protocol (want "" or "moby.plugins.http/v1")`},
		{"relative mount destination", func(c *plugin.Config) { c.Mounts[0].Destination = "state" }, `Mounts[0] (state): Destination "state": must be an absolute path`},
		{"no mount type", func(c *plugin.Config) { c.Mounts[0].Type = "" }, "Mounts[0] (state): Type must not be empty"},
		{
			"null mount source not settable",
			func(c *plugin.Config) { c.Mounts[0].Source, c.Mounts[0].Settable = nil, nil },
			"Mounts[0] (state): mount source is not specified and not settable",
		},
		{"mount settable field", func(c *plugin.Config) { c.Mounts[0].Settable = []string{"destination"} }, `Mounts[0] (state): Settable "destination": not a settable field (allowed: source)`},
		{
			"null device path not settable",
			func(c *plugin.Config) { c.Linux.Devices[0].Path, c.Linux.Devices[0].Settable = nil, nil },
			"Linux.Devices[0] (fuse): device path is not specified and not settable",
		},
		{"relative device path", func(c *plugin.Config) { c.Linux.Devices[0].Path = ptr("dev/fuse") }, `Linux.Devices[0] (fuse): Path "dev/fuse": must be an absolute path`},
		{"device settable field", func(c *plugin.Config) { c.Linux.Devices[0].Settable = []string{"value"} }, `Linux.Devices[0] (fuse): Settable "value": not a settable field (allowed: path)`},
		{"env without name", func(c *plugin.Config) { c.Env[0].Name = "" }, "Env[0]: Name must not be empty"},
		{"env name with =", func(c *plugin.Config) { c.Env[0].Name = "A=B" }, `Env[0] "A=B": Name must not contain "="`},
		{"env settable field", func(c *plugin.Config) { c.Env[0].Settable = []string{"source"} }, `Env[0] (DEBUG): Settable "source": not a settable field (allowed: value)`},
		{"args settable field", func(c *plugin.Config) { c.Args.Settable = []string{"path"} }, `Args (args): Settable "path": not a settable field (allowed: value)`},
		{"unknown capability name", func(c *plugin.Config) { c.Linux.Capabilities = []string{"CAP_FLY"} }, `Linux.Capabilities[0] "CAP_FLY": unknown Linux capability`},
		{"lower-case capability name", func(c *plugin.Config) { c.Linux.Capabilities = []string{"cap_sys_admin"} }, `(capability names are upper case: "CAP_SYS_ADMIN")`},
		{"capability without prefix", func(c *plugin.Config) { c.Linux.Capabilities = []string{"SYS_ADMIN"} }, `(did you mean "CAP_SYS_ADMIN"?)`},
		{"network type", func(c *plugin.Config) { c.Network.Type = "overlay" }, `Network.Type "overlay": unknown network type`},
		{"propagated mount", func(c *plugin.Config) { c.PropagatedMount = "mnt" }, `PropagatedMount "mnt": must be an absolute path`},
		{"workdir", func(c *plugin.Config) { c.WorkDir = "work" }, `WorkDir "work": must be an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := Validate(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := validConfig()
	c.Entrypoint = nil
	c.Interface.Socket = ""
	c.Network.Type = "overlay"
	err := Validate(c)
	require.Error(t, err)
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Validate must join its errors")
	assert.Len(t, joined.Unwrap(), 3)
}

func TestValidateRootfs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	tests := []struct {
		name string
		dir  string
		want string
	}{
		{"directory", dir, ""},
		{"missing", filepath.Join(dir, "nope"), "rootfs: " + filepath.Join(dir, "nope") + ": no such directory"},
		{"file", file, "rootfs: " + file + ": not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRootfs(tt.dir)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestCheckEntrypoint(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "host-bin"), []byte("#!/bin/sh\n"), 0o755))

	rootfs := t.TempDir()
	mkdir := func(p string) { require.NoError(t, os.MkdirAll(filepath.Join(rootfs, p), 0o755)) }
	write := func(p string, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, p), []byte("#!/bin/sh\n"), mode))
	}
	link := func(target, p string) { require.NoError(t, os.Symlink(target, filepath.Join(rootfs, p))) }

	mkdir("bin")
	mkdir("usr/bin")
	write("bin/plugin", 0o755)
	write("bin/data", 0o644)
	write("usr/bin/real", 0o755)
	link("/usr/bin/real", "bin/abs-link")            // absolute: resolved inside rootfs
	link("../usr/bin/real", "bin/rel-link")          // relative
	link("../../../../../../usr/bin/real", "bin/up") // ".." stops at the rootfs
	link(filepath.Join(outside, "host-bin"), "bin/host-link")
	link("/usr", "usr-link")
	link("loop2", "bin/loop1")
	link("loop1", "bin/loop2")
	require.NoError(t, syscall.Mkfifo(filepath.Join(rootfs, "bin/fifo"), 0o755))

	tests := []struct {
		name       string
		entrypoint []string
		want       string
	}{
		{"regular executable", []string{"/bin/plugin", "--flag"}, ""},
		{"relative name is looked up at run time", []string{"plugin"}, ""},
		{"absolute symlink inside rootfs", []string{"/bin/abs-link"}, ""},
		{"relative symlink", []string{"/bin/rel-link"}, ""},
		{"dot dot clamped at rootfs", []string{"/bin/up"}, ""},
		{"symlinked directory", []string{"/usr-link/bin/real"}, ""},
		{"dot dot in entrypoint", []string{"/bin/../usr/bin/real"}, ""},
		{"empty", nil, "Entrypoint: must not be empty"},
		{"missing", []string{"/bin/nope"}, `Entrypoint[0] "/bin/nope": /bin/nope: not found in rootfs`},
		{"not executable", []string{"/bin/data"}, `Entrypoint[0] "/bin/data": not executable in rootfs ` + rootfs + ` (mode -rw-r--r--)`},
		{"directory", []string{"/usr/bin"}, `Entrypoint[0] "/usr/bin": is a directory in rootfs`},
		{"fifo", []string{"/bin/fifo"}, `Entrypoint[0] "/bin/fifo": not a regular file`},
		{
			"symlink to the host is not followed",
			[]string{"/bin/host-link"},
			// The target's first component is looked up in the rootfs.
			": not found in rootfs " + rootfs,
		},
		{"through a file", []string{"/bin/plugin/x"}, "/bin/plugin: not a directory in rootfs"},
		{"symlink loop", []string{"/bin/loop1"}, "too many levels of symbolic links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Entrypoint = tt.entrypoint
			err := CheckEntrypoint(rootfs, c)
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCheckEntrypointShowsResolvedPath(t *testing.T) {
	rootfs := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "bin/data"), nil, 0o644))
	require.NoError(t, os.Symlink("/bin/data", filepath.Join(rootfs, "entry")))

	c := validConfig()
	c.Entrypoint = []string{"/entry"}
	err := CheckEntrypoint(rootfs, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Entrypoint[0] "/entry" (resolves to "/bin/data"): not executable`)
}

func TestCheckEntrypointMissingRootfs(t *testing.T) {
	c := validConfig()
	err := CheckEntrypoint(filepath.Join(t.TempDir(), "nope"), c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Entrypoint[0] "/plugin": open rootfs`)
}
