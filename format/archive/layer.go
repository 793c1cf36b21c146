package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Whiteout markers of image layers (the OCI image spec's layer format, as
// Docker writes it).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Layer is what applying one image layer did.
type Layer struct {
	// DiffID is the sha256 of the uncompressed tar stream, as
	// "sha256:<hex>": the value an image config's rootfs.diff_ids holds.
	DiffID string
	// Skipped names the entries that were left out rather than refused:
	// device nodes and fifos, which a plugin gets from Linux.Devices.
	Skipped []string
}

// ApplyLayer unpacks one image layer, a tar stream either gzip-compressed
// or not (told apart by its first bytes), on top of rootfsDir, which must
// exist. Whiteouts are applied: ".wh.NAME" deletes NAME from the layers
// below and ".wh..wh..opq" empties its directory of what the layers below
// put there.
//
// The same rules as UnpackContext keep every write inside rootfsDir: an
// entry whose path is absolute or climbs out (..) is refused, as is any
// write or whiteout that would pass through a symlink leading outside
// (os.Root). Device nodes and fifos are skipped and listed in Skipped; an
// entry of a type it does not unpack fails it (see nextEntry). On
// error, rootfsDir holds part of the layer: unpack into a staging directory
// and discard it on failure.
func ApplyLayer(r io.Reader, rootfsDir string) (Layer, error) {
	var res Layer
	root, err := os.OpenRoot(rootfsDir)
	if err != nil {
		return res, fmt.Errorf("open rootfs dir: %w", err)
	}
	defer root.Close()

	br := bufio.NewReader(r)
	var stream io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return res, fmt.Errorf("decompress layer: %w", err)
		}
		defer zr.Close()
		stream = zr
	}
	digest := sha256.New()
	stream = io.TeeReader(stream, digest)

	tr := tar.NewReader(stream)
	// Paths this layer wrote: an opaque whiteout must not delete them.
	written := map[string]bool{}
	var dirTimes []dirTime
	for {
		hdr, name, err := nextEntry(tr, "read layer")
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		if name == "." {
			continue
		}
		dir, base := path.Dir(name), path.Base(name)
		switch {
		case base == whiteoutOpaque:
			if err := opaque(root, dir, written); err != nil {
				return res, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			continue
		case strings.HasPrefix(base, whiteoutMeta):
			continue // aufs bookkeeping, never a file
		case strings.HasPrefix(base, whiteoutPrefix):
			target := path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
			if err := root.RemoveAll(target); err != nil {
				return res, fmt.Errorf("layer entry %q: whiteout: %w", hdr.Name, err)
			}
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			res.Skipped = append(res.Skipped, name)
			continue
		}
		if err := applyEntry(root, tr, hdr, name); err != nil {
			return res, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		written[name] = true
		if hdr.Typeflag == tar.TypeDir {
			dirTimes = append(dirTimes, dirTime{name, hdr})
		}
	}
	// The digest covers the whole stream, the end-of-archive padding too.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return res, fmt.Errorf("read layer: %w", err)
	}
	for _, d := range dirTimes {
		_ = root.Chtimes(d.name, d.hdr.AccessTime, d.hdr.ModTime)
	}
	res.DiffID = "sha256:" + hex.EncodeToString(digest.Sum(nil))
	return res, nil
}

// opaque deletes what dir holds, except what this layer wrote.
func opaque(root *os.Root, dir string, written map[string]bool) error {
	f, err := root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if written[p] {
			continue
		}
		if err := root.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// applyEntry writes one entry, replacing what a lower layer had there,
// except that a directory over a directory merges.
func applyEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, rel string) error {
	if dir := path.Dir(rel); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	st, err := root.Lstat(rel)
	exists := err == nil
	if hdr.Typeflag != tar.TypeDir || (exists && !st.IsDir()) {
		if exists {
			if err := root.RemoveAll(rel); err != nil {
				return err
			}
			exists = false
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := root.Mkdir(rel, 0o755); err != nil {
				return err
			}
		}
	case tar.TypeReg:
		if err := createFile(root, rel, tr); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// Not resolved: inside the container an absolute target means the
		// plugin's own root. Writes through it are checked by os.Root.
		return lchown(root, rel, hdr, root.Symlink(hdr.Linkname, rel))
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		if target == "." {
			return fmt.Errorf("hard link to the root directory")
		}
		return root.Link(target, rel)
	default:
		return unsupportedType(hdr)
	}
	return setAttrs(root, rel, hdr, mode)
}

// PackLayer writes the tree under rootfsDir to w as an uncompressed layer
// tar: paths relative to the root, in lexical order, hard links kept as
// links, sockets left out. It reads the tree as it is; the caller keeps it
// from changing meanwhile.
func PackLayer(w io.Writer, rootfsDir string) error {
	p := NewPacker(w)
	if err := p.Add(rootfsDir, "."); err != nil {
		return err
	}
	return p.Close()
}
