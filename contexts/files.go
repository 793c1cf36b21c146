package contexts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxFileSize bounds every file the package reads: meta.json, config.json
// and TLS files.
const MaxFileSize = 1 << 20

// rename is os.Rename; tests make it fail to see that a failed write leaves
// the old file as it was.
var rename = os.Rename

// writeFileAtomic replaces path with data: a reader sees the old file or the
// new one, never a part of it, and after a crash the new one is whole or
// absent. The file gets perm whatever the umask.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The rename is durable once the directory is; a directory cannot be
	// opened for syncing everywhere (Windows), so this is best effort.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// readFile reads path, a regular file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkOpened(f, path); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, errTooLarge)
	}
	return b, nil
}

var errTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)

// checkFile checks that path names a regular file of at most MaxFileSize
// bytes, for a reader that is not this package's (tlsconfig's).
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkOpened(f, path)
}

func checkOpened(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("%s: %w", path, errTooLarge)
	}
	return nil
}

// exists reports whether path exists; an error other than "does not exist"
// counts as existing, so that the caller's read reports it.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// object is a JSON object whose unknown members are kept as they were.
type object map[string]json.RawMessage

// decodeObject decodes b, a JSON object or null (an empty object).
func decodeObject(b json.RawMessage) (object, error) {
	o := object{}
	if len(b) == 0 || string(b) == "null" {
		return o, nil
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, err
	}
	if o == nil { // the literal null, with spaces around it
		o = object{}
	}
	return o, nil
}

// take removes from o the member named key and decodes it into v. As
// encoding/json matches struct fields (and docker's reader does), a member
// whose name differs only in case counts when there is no exact one. It
// reports whether there was a member.
func (o object) take(key string, v any) (bool, error) {
	k, found := key, false
	if _, found = o[key]; !found {
		for name := range o {
			if strings.EqualFold(name, key) {
				k, found = name, true
				break
			}
		}
	}
	if !found {
		return false, nil
	}
	raw := o[k]
	delete(o, k)
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%s: %w", key, err)
	}
	return true, nil
}

// set adds member key with v's JSON encoding (<, > and & as they are).
func (o object) set(key string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	o[key] = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return nil
}

// encode returns o as JSON: the members named in first in that order (the
// order docker writes them), then the others sorted.
func (o object) encode(first ...string) json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	done := map[string]bool{}
	write := func(k string) {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(o[k])
		done[k] = true
	}
	for _, k := range first {
		if _, ok := o[k]; ok && !done[k] {
			write(k)
		}
	}
	rest := make([]string, 0, len(o))
	for k := range o {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		write(k)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}
