package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/sys/capability"
)

// MaxSocketNameLen is the longest Interface.Socket that works. On the host
// the socket is /run/docker/plugins/<64-hex id>/<Socket>; the directory part
// takes 85 of the 107 bytes a unix socket path may have (sun_path is 108
// bytes with a terminating NUL), which leaves 22.
const MaxSocketNameLen = 22

// ProtocolSchemeHTTPV1 is the only plugin protocol Docker knows; an empty
// Interface.ProtocolScheme means it too.
const ProtocolSchemeHTTPV1 = "moby.plugins.http/v1"

// removedCapabilities are interface capabilities Docker no longer supports.
var removedCapabilities = map[string]string{
	"graphdriver": "Docker removed graph driver plugins (deprecated in v27, deleted in v28)",
}

// networkTypes are the Network.Type values Docker's docs and code know.
// Only "host" changes anything; the others give a private, loopback-only netns.
var networkTypes = []string{"", "host", "bridge", "none", "null"}

// linuxCapabilities is the set of "CAP_…" names moby/sys/capability knows,
// made at its first use rather than at the start of every process that
// links this package (the client does).
var linuxCapabilities = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = true
	}
	return m
})

// Validate checks c against the rules a plugin needs to run under Docker
// and plugdbg. Docker itself checks almost nothing before enable (its
// validateConfig is a TODO), so a config that fails here may install in
// Docker and then fail to enable, or run but never be found by a subsystem.
//
// It returns every problem found, joined with errors.Join, each naming the
// field and the value; nil means none. It does not look at the rootfs (see
// ValidateRootfs and CheckEntrypoint).
func Validate(c plugin.Config) error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf(format, a...))
	}

	if len(c.Entrypoint) == 0 {
		add("Entrypoint: must not be empty")
	} else if c.Entrypoint[0] == "" {
		add("Entrypoint[0]: program must not be empty")
	}
	if c.WorkDir != "" && !path.IsAbs(c.WorkDir) {
		add("WorkDir %q: must be an absolute path", c.WorkDir)
	}
	if c.PropagatedMount != "" && !path.IsAbs(c.PropagatedMount) {
		add("PropagatedMount %q: must be an absolute path", c.PropagatedMount)
	}

	errs = append(errs, validateInterface(c.Interface)...)

	if !slices.Contains(networkTypes, c.Network.Type) {
		add("Network.Type %q: unknown network type (want one of %q)", c.Network.Type, networkTypes)
	}

	for i, e := range c.Env {
		where := fmt.Sprintf("Env[%d]", i)
		switch {
		case e.Name == "":
			add("%s: Name must not be empty", where)
		case strings.Contains(e.Name, "="):
			add("%s %q: Name must not contain \"=\"", where, e.Name)
		}
		errs = append(errs, checkSettable(fmt.Sprintf("%s (%s)", where, e.Name), e.Settable, allowedEnvFields)...)
	}
	errs = append(errs, checkSettable(fmt.Sprintf("Args (%s)", c.Args.Name), c.Args.Settable, allowedArgsFields)...)

	for i, m := range c.Mounts {
		where := fmt.Sprintf("Mounts[%d] (%s)", i, m.Name)
		if !path.IsAbs(m.Destination) {
			add("%s: Destination %q: must be an absolute path", where, m.Destination)
		}
		if m.Type == "" {
			add("%s: Type must not be empty (for example \"bind\")", where)
		}
		if m.Source == nil && !slices.Contains(m.Settable, fieldSource) {
			add("%s: mount source is not specified and not settable", where)
		}
		errs = append(errs, checkSettable(where, m.Settable, allowedMountFields)...)
	}

	for i, d := range c.Linux.Devices {
		where := fmt.Sprintf("Linux.Devices[%d] (%s)", i, d.Name)
		switch {
		case d.Path == nil && !slices.Contains(d.Settable, fieldPath):
			add("%s: device path is not specified and not settable", where)
		case d.Path != nil && !path.IsAbs(*d.Path):
			add("%s: Path %q: must be an absolute path", where, *d.Path)
		}
		errs = append(errs, checkSettable(where, d.Settable, allowedDeviceFields)...)
	}

	for i, name := range c.Linux.Capabilities {
		if linuxCapabilities()[name] {
			continue
		}
		hint := ""
		if up := strings.ToUpper(name); linuxCapabilities()[up] {
			hint = fmt.Sprintf(" (capability names are upper case: %q)", up)
		} else if linuxCapabilities()["CAP_"+up] {
			hint = fmt.Sprintf(" (did you mean %q?)", "CAP_"+up)
		}
		add("Linux.Capabilities[%d] %q: unknown Linux capability%s", i, name, hint)
	}

	return errors.Join(errs...)
}

func validateInterface(in plugin.Interface) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf(format, a...))
	}

	if len(in.Types) == 0 {
		add("Interface.Types: must declare at least one type (for example \"docker.volumedriver/1.0\")")
	}
	for i, t := range in.Types {
		where := fmt.Sprintf("Interface.Types[%d] %q", i, t.String())
		if t.Prefix != "docker" {
			add("%s: prefix %q: must be \"docker\"", where, t.Prefix)
		}
		switch note, removed := removedCapabilities[t.Capability]; {
		case removed:
			add("%s: capability %q is not supported: %s", where, t.Capability, note)
		case !slices.Contains(knownCapabilities, t.Capability):
			hint := ""
			if lc := strings.ToLower(t.Capability); slices.Contains(knownCapabilities, lc) {
				hint = fmt.Sprintf("; Docker matches capabilities in lower case, use %q", lc)
			}
			add("%s: unknown capability %q (known: %s)%s", where, t.Capability, strings.Join(knownCapabilities, ", "), hint)
		}
		if t.Version == "" {
			add("%s: version must not be empty (use \"1.0\")", where)
		}
	}

	switch s := in.Socket; {
	case s == "":
		add("Interface.Socket: must not be empty")
	case strings.ContainsRune(s, 0):
		add("Interface.Socket %q: must not contain a NUL byte", s)
	case strings.Contains(s, "/"):
		add("Interface.Socket %q: must be a plain file name, not a path", s)
	case s == "." || s == "..":
		add("Interface.Socket %q: must be a plain file name", s)
	case len(s) > MaxSocketNameLen:
		add("Interface.Socket %q: %d bytes is too long, at most %d: on the host the socket is "+
			"/run/docker/plugins/<64-hex id>/<Socket>, whose directory takes 85 of the 107 usable bytes of a unix socket path",
			s, len(s), MaxSocketNameLen)
	}

	if in.ProtocolScheme != "" && in.ProtocolScheme != ProtocolSchemeHTTPV1 {
		add("Interface.ProtocolScheme %q: unknown protocol (want \"\" or %q)", in.ProtocolScheme, ProtocolSchemeHTTPV1)
	}
	return errs
}

// checkSettable reports entries of settable that the kind does not allow.
func checkSettable(where string, settable, allowed []string) []error {
	var errs []error
	for _, f := range settable {
		if !slices.Contains(allowed, f) {
			errs = append(errs, fmt.Errorf("%s: Settable %q: not a settable field (allowed: %s)", where, f, strings.Join(allowed, ", ")))
		}
	}
	return errs
}

// ValidateRootfs checks that dir, a plugin's rootfs on the host, exists and
// is a directory. It follows symlinks in dir itself.
func ValidateRootfs(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("rootfs: %s: no such directory", dir)
	case err != nil:
		return fmt.Errorf("rootfs: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("rootfs: %s: not a directory", dir)
	}
	return nil
}

// maxSymlinks bounds symlink resolution, as Linux's ELOOP limit does.
const maxSymlinks = 40

// CheckEntrypoint checks that the program c.Entrypoint[0] exists in rootfs
// and is an executable regular file. Symlinks are resolved inside rootfs
// only, as the plugin would see them: an absolute target is taken relative
// to rootfs and ".." stops at it, so the check never reads outside rootfs.
// A relative program name is looked up through PATH at run time and is not
// checked. An empty Entrypoint is an error.
func CheckEntrypoint(rootfs string, c plugin.Config) error {
	if len(c.Entrypoint) == 0 || c.Entrypoint[0] == "" {
		return errors.New("Entrypoint: must not be empty")
	}
	prog := c.Entrypoint[0]
	if !path.IsAbs(prog) {
		return nil
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("Entrypoint[0] %q: open rootfs: %w", prog, err)
	}
	defer root.Close()

	resolved, fi, err := resolveInRoot(root, prog)
	if err != nil {
		return fmt.Errorf("Entrypoint[0] %q: %w", prog, err)
	}
	where := fmt.Sprintf("Entrypoint[0] %q", prog)
	if resolved != strings.TrimPrefix(path.Clean(prog), "/") {
		where += fmt.Sprintf(" (resolves to %q)", path.Join("/", resolved))
	}
	switch {
	case fi.IsDir():
		return fmt.Errorf("%s: is a directory in rootfs %s, want an executable file", where, rootfs)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file in rootfs %s (mode %s)", where, rootfs, fi.Mode())
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s: not executable in rootfs %s (mode %s)", where, rootfs, fi.Mode().Perm())
	}
	return nil
}

// resolveInRoot resolves name inside root the way the kernel would with
// root as "/", and returns the resolved path (relative to root, "." for root
// itself) with its Lstat info.
func resolveInRoot(root *os.Root, name string) (string, fs.FileInfo, error) {
	cur := "." // resolved so far, free of symlinks and ".."
	todo := splitPath(name)
	links := 0
	info, err := root.Lstat(".")
	if err != nil {
		return "", nil, err
	}
	for len(todo) > 0 {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			if info, err = root.Lstat(cur); err != nil {
				return "", nil, err
			}
			continue
		}
		next := path.Join(cur, part)
		fi, err := root.Lstat(next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil, fmt.Errorf("/%s: not found in rootfs %s", next, root.Name())
			}
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", nil, fmt.Errorf("/%s: not a directory in rootfs %s", next, root.Name())
			}
			cur, info = next, fi
			continue
		}
		links++
		if links > maxSymlinks {
			return "", nil, fmt.Errorf("/%s: too many levels of symbolic links", next)
		}
		target, err := root.Readlink(next)
		if err != nil {
			return "", nil, err
		}
		if path.IsAbs(target) {
			cur = "."
			if info, err = root.Lstat(cur); err != nil {
				return "", nil, err
			}
		}
		todo = append(splitPath(target), todo...)
	}
	return cur, info, nil
}

func splitPath(p string) []string {
	return strings.Split(p, "/")
}
