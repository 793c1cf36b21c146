package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// Packer writes trees of files to a tar stream as Docker packs a layer or
// a build context: in lexical order, owner names left out, hard links kept
// as links, sockets left out.
type Packer struct {
	tw   *tar.Writer
	seen map[[2]uint64]string // device and inode of files with several links → first name
}

// NewPacker returns a Packer writing to w. Close it to end the stream.
func NewPacker(w io.Writer) *Packer {
	return &Packer{tw: tar.NewWriter(w), seen: map[[2]uint64]string{}}
}

// Add writes dir/name and, if it is a directory, everything below it, each
// entry named by its path below dir. name "." adds what is below dir, not
// dir itself.
func (p *Packer) Add(dir, name string) error {
	err := fs.WalkDir(os.DirFS(dir), name, func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		full := path.Join(dir, rel)
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(full); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", full, err)
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if key, nlink, ok := inode(info); ok && info.Mode().IsRegular() && nlink > 1 {
			if first, dup := p.seen[key]; dup {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				p.seen[key] = rel
			}
		}
		if err := p.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(p.tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", path.Join(dir, name), err)
	}
	return nil
}

// Close ends the tar stream.
func (p *Packer) Close() error { return p.tw.Close() }
