// Package archive unpacks a plugin build context (the tar that
// `docker plugin create` sends: config.json plus rootfs/) and image layers
// (with their whiteouts) without letting any entry reach outside the
// destination, and packs a rootfs into a layer.
package archive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/docker/go-units"
	"github.com/plugdbg/plugdbg/errkind"
)

// maxConfigSize bounds config.json; real ones are a few KiB.
const maxConfigSize = 1 << 20

// ContextLimits bound what a build context may unpack. A context is
// streamed to disk as it arrives, so its size costs the daemon disk, not
// memory; the bounds keep one request from filling the disk or, with
// millions of entries, the daemon's memory (each directory's times are
// kept until the end).
type ContextLimits struct {
	// Bytes bounds the sizes of all entries together, as their headers
	// give them; DefaultContextLimits.Bytes if zero.
	Bytes int64
	// Entries bounds the number of entries; DefaultContextLimits.Entries
	// if zero.
	Entries int
}

// DefaultContextLimits are the daemon's bounds: plugin root filesystems
// are tens to hundreds of MiB with at most tens of thousands of files, so
// these leave an order of magnitude of room.
var DefaultContextLimits = ContextLimits{
	Bytes:   4 << 30,
	Entries: 1 << 18,
}

func (l ContextLimits) orDefault() ContextLimits {
	if l.Bytes <= 0 {
		l.Bytes = DefaultContextLimits.Bytes
	}
	if l.Entries <= 0 {
		l.Entries = DefaultContextLimits.Entries
	}
	return l
}

// LimitError is a build context over one of its ContextLimits.
type LimitError struct {
	Entry string // the tar entry that went over
	Limit string // which bound, with its value: "the 4GiB limit of unpacked size"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("build context over %s (at tar entry %q)", e.Limit, e.Entry)
}

// ResourceExhausted gives the error errdefs' kind of an input over its
// bound (errkind.TooLarge), which the API answers with 413.
func (*LimitError) ResourceExhausted() {}

// Context is what a plugin build context held.
type Context struct {
	Config []byte // the raw config.json
	// RootfsDigest is the sha256 of the rootfs entries re-packed as a tar
	// stream, recorded as the plugin's diff ID.
	RootfsDigest string
	Entries      int // rootfs entries unpacked
}

// ErrNoConfig and ErrNoRootfs are Docker's errors for an incomplete context,
// of kind Invalid.
var (
	ErrNoConfig = errkind.Invalid(errors.New("config not found"))
	ErrNoRootfs = errkind.Invalid(errors.New("no rootfs found"))
)

// UnpackContext reads a tar stream and unpacks its rootfs/ entries into
// rootfsDir, which must exist and be empty. It keeps config.json in memory
// and ignores every other entry, as Docker does. Entries are refused when
// their path leaves the tree (../), when they would be written through a
// symlink that leads outside rootfsDir, when config.json or rootfs itself is
// a symlink, when they are device nodes or fifos, and when their type is
// one it does not unpack (see nextEntry). The context is bounded by
// DefaultContextLimits (see UnpackContextWithin).
func UnpackContext(r io.Reader, rootfsDir string) (Context, error) {
	return UnpackContextWithin(r, rootfsDir, DefaultContextLimits)
}

// UnpackContextWithin is UnpackContext with the bounds lim. A context over
// them is a *LimitError, found from the headers before the entry that goes
// over is written.
func UnpackContextWithin(r io.Reader, rootfsDir string, lim ContextLimits) (Context, error) {
	lim = lim.orDefault()
	var ctx Context
	root, err := os.OpenRoot(rootfsDir)
	if err != nil {
		return ctx, fmt.Errorf("open rootfs dir: %w", err)
	}
	defer root.Close()

	digest := sha256.New()
	repack := tar.NewWriter(digest)
	tr := tar.NewReader(r)
	var dirTimes []dirTime
	var entries int
	var size int64
	for {
		hdr, name, err := nextEntry(tr, "read tar")
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ctx, err
		}
		// Every entry counts, ignored ones too: they still cost reading.
		entries++
		if entries > lim.Entries {
			return ctx, &LimitError{Entry: hdr.Name, Limit: fmt.Sprintf("the limit of %d entries", lim.Entries)}
		}
		if hdr.Size > lim.Bytes-size { // not size+hdr.Size, which can overflow
			return ctx, &LimitError{Entry: hdr.Name, Limit: fmt.Sprintf("the %s limit of unpacked size", units.BytesSize(float64(lim.Bytes)))}
		}
		size += max(hdr.Size, 0)
		switch {
		case name == "config.json":
			if hdr.Typeflag != tar.TypeReg {
				return ctx, fmt.Errorf("tar entry %q: config.json must be a regular file", hdr.Name)
			}
			ctx.Config, err = io.ReadAll(io.LimitReader(tr, maxConfigSize+1))
			if err != nil {
				return ctx, fmt.Errorf("read config.json: %w", err)
			}
			if len(ctx.Config) > maxConfigSize {
				return ctx, fmt.Errorf("config.json: larger than %d bytes", maxConfigSize)
			}
		case name == "rootfs":
			if hdr.Typeflag != tar.TypeDir {
				return ctx, fmt.Errorf("tar entry %q: rootfs must be a directory", hdr.Name)
			}
			ctx.Entries++
		case strings.HasPrefix(name, "rootfs/"):
			rel := strings.TrimPrefix(name, "rootfs/")
			if err := unpackEntry(root, tr, hdr, rel); err != nil {
				return ctx, fmt.Errorf("tar entry %q: %w", hdr.Name, err)
			}
			if hdr.Typeflag == tar.TypeDir {
				dirTimes = append(dirTimes, dirTime{rel, hdr})
			}
			if err := repackEntry(repack, hdr, rel, root); err != nil {
				return ctx, fmt.Errorf("digest rootfs: %w", err)
			}
			ctx.Entries++
		}
	}
	// Directory times last: creating entries inside changes them.
	for _, d := range dirTimes {
		_ = root.Chtimes(d.name, d.hdr.AccessTime, d.hdr.ModTime)
	}
	if ctx.Config == nil {
		return ctx, ErrNoConfig
	}
	if ctx.Entries == 0 {
		return ctx, ErrNoRootfs
	}
	_ = repack.Close()
	ctx.RootfsDigest = "sha256:" + hex.EncodeToString(digest.Sum(nil))
	return ctx, nil
}

type dirTime struct {
	name string
	hdr  *tar.Header
}

// nextEntry reads the next entry's header and its cleaned name (see
// cleanName); io.EOF after the last one. what names the reading in errors.
//
// Two kinds of entry are settled here, so that the unpackers never see
// them: a PAX global header ('g', which `git archive` writes) names no file
// and is passed over, and an old-GNU sparse file ('S', from
// `tar --sparse --format=gnu`) or a contiguous file ('7') is a regular
// file: the reader already expands the sparse map into the full contents
// (holes read as zeros) and reports the full size, as it does for PAX
// sparse files, which it hands out as TypeReg. Every other type the
// unpackers do not know is refused there, naming the entry.
func nextEntry(tr *tar.Reader, what string) (*tar.Header, string, error) {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, "", io.EOF
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", what, err)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeGNUSparse, tar.TypeCont:
			hdr.Typeflag = tar.TypeReg
		}
		name, err := cleanName(hdr.Name)
		return hdr, name, err
	}
}

// unsupportedType is the error for an entry type that neither unpacker
// writes nor deliberately leaves out: dropping it would lose a file
// without a word.
func unsupportedType(hdr *tar.Header) error {
	return fmt.Errorf("entry type %q is not supported", hdr.Typeflag)
}

// cleanName normalises a tar path and refuses one that climbs out.
func cleanName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	if n == "" || n == "." {
		return ".", nil
	}
	if path.IsAbs(n) {
		return "", fmt.Errorf("tar entry %q: absolute path", name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q: path leaves the archive (..)", name)
		}
	}
	return path.Clean(n), nil
}

func unpackEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, rel string) error {
	mode := hdr.FileInfo().Mode()
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(rel, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg:
		_ = root.Remove(rel)
		if err := createFile(root, rel, tr); err != nil {
			return err
		}
	case tar.TypeSymlink:
		_ = root.Remove(rel)
		// Targets are not resolved here: inside the container an absolute
		// target means the plugin's own root, never the host's.
		return lchown(root, rel, hdr, root.Symlink(hdr.Linkname, rel))
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(target, "rootfs/") {
			return fmt.Errorf("hard link to %q outside rootfs", hdr.Linkname)
		}
		_ = root.Remove(rel)
		return root.Link(strings.TrimPrefix(target, "rootfs/"), rel)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("device and fifo entries are not supported in a plugin rootfs (use Linux.Devices)")
	default:
		return unsupportedType(hdr)
	}
	return setAttrs(root, rel, hdr, mode)
}

// createFile writes a new regular file at rel with the contents of r; the
// mode comes after, from setAttrs.
func createFile(root *os.Root, rel string, r io.Reader) error {
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// setAttrs gives an entry just written its owner, mode (with the setuid,
// setgid and sticky bits) and, for a regular file, its times.
func setAttrs(root *os.Root, rel string, hdr *tar.Header, mode os.FileMode) error {
	if err := lchown(root, rel, hdr, nil); err != nil {
		return err
	}
	if err := root.Chmod(rel, mode.Perm()|mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		_ = root.Chtimes(rel, hdr.AccessTime, hdr.ModTime)
	}
	return nil
}

func lchown(root *os.Root, rel string, hdr *tar.Header, prev error) error {
	if prev != nil {
		return prev
	}
	if os.Geteuid() != 0 {
		return nil
	}
	return root.Lchown(rel, hdr.Uid, hdr.Gid)
}

// repackEntry feeds a canonical form of the entry into the digest.
func repackEntry(tw *tar.Writer, hdr *tar.Header, rel string, root *os.Root) error {
	h := &tar.Header{
		Name: rel, Typeflag: hdr.Typeflag, Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid,
		Linkname: hdr.Linkname, ModTime: hdr.ModTime, Format: tar.FormatPAX,
	}
	if hdr.Typeflag != tar.TypeReg {
		return tw.WriteHeader(h)
	}
	f, err := root.Open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h.Size = st.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
