package container

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plugdbg/plugdbg/errkind"
	"golang.org/x/sys/unix"
)

// BusyboxCandidates are where the daemon looks for a static busybox, in
// order: Debian's busybox-static installs /bin/busybox.
var BusyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"}

// ErrNoToolbox means the daemon has no toolbox to run; its kind is Conflict,
// as the API has always answered it.
var ErrNoToolbox = errkind.Conflict(errors.New("no toolbox: the daemon found no static busybox at start (install busybox-static, see scripts/deps.sh)"))

// Toolbox is a directory holding a static busybox and one symlink per
// applet (sh, ls, ps, …), owned by root and read-only. An exec runs it
// inside a plugin's container without putting anything in the plugin's
// rootfs: see Open.
type Toolbox struct {
	Dir     string
	applets []string // sorted
}

// BuildToolbox (re)creates the toolbox in dir from the first static busybox
// among candidates.
func BuildToolbox(dir string, candidates []string) (*Toolbox, error) {
	src, err := findStaticBusybox(candidates)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(src, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets of %s: %w", src, err)
	}
	if err := makeWritable(dir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("remove old toolbox: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create toolbox: %w", err)
	}
	if err := copyFile(src, filepath.Join(dir, "busybox"), 0o555); err != nil {
		return nil, fmt.Errorf("copy busybox into the toolbox: %w", err)
	}
	applets := []string{"busybox"}
	for _, name := range strings.Fields(string(out)) {
		if name == "busybox" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("toolbox applet %s: %w", name, err)
		}
		applets = append(applets, name)
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		return nil, err
	}
	slices.Sort(applets)
	return &Toolbox{Dir: dir, applets: applets}, nil
}

// makeWritable lets an old toolbox be removed.
func makeWritable(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Has reports whether the toolbox has a program name.
func (t *Toolbox) Has(name string) bool {
	_, ok := slices.BinarySearch(t.applets, name)
	return ok
}

// Applets lists the toolbox's programs.
func (t *Toolbox) Applets() []string { return slices.Clone(t.applets) }

// Open returns a read-only, nosuid, nodev detached clone of the toolbox
// directory (open_tree with OPEN_TREE_CLONE, then mount_setattr). Passed to
// a process in the container, its programs run there and see the
// container's filesystem, processes and network; ".." from the clone stays
// inside the toolbox, so the fd is no way out to the host's tree. The clone
// goes away with the last fd on it.
func (t *Toolbox) Open() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, t.Dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("clone toolbox %s: %w", t.Dir, err)
	}
	// Clearing noexec lets the toolbox live on a noexec /run.
	attr := unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
		Attr_clr: unix.MOUNT_ATTR_NOEXEC,
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make toolbox clone read-only: %w", err)
	}
	return os.NewFile(uintptr(fd), "toolbox"), nil
}

func findStaticBusybox(candidates []string) (string, error) {
	var tried []string
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		static, err := isStatic(c)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if !static {
			tried = append(tried, c+": dynamically linked")
			continue
		}
		return c, nil
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("%w (looked in %s)", ErrNoToolbox, strings.Join(candidates, ", "))
	}
	return "", fmt.Errorf("%w (%s)", ErrNoToolbox, strings.Join(tried, "; "))
}

// isStatic reports whether the ELF binary at path needs no interpreter.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
		return fmt.Errorf("%s is not an ELF binary", src)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
