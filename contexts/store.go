package contexts

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// EndpointName is plugdbg's endpoint in a context's meta.json and its TLS
// directory, as "docker" is docker's.
const EndpointName = "plugdbg"

// The TLS files of a context, as docker names them.
const (
	CAFile   = "ca.pem"
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

const metaFile = "meta.json"

// Errors of the store, to test with errors.Is.
var (
	ErrNotFound = errors.New("context does not exist")
	ErrExists   = errors.New("context already exists")
)

// notFoundError is ErrNotFound for a name, and what chose it.
type notFoundError struct{ name, source string }

func (e notFoundError) Error() string {
	msg := fmt.Sprintf("context %q does not exist", e.name)
	if e.source != "" {
		msg += " (from " + e.source + ")"
	}
	return msg
}

func (notFoundError) Is(target error) bool { return target == ErrNotFound }

// Store is the context store under a config directory.
type Store struct {
	dir string
}

// NewStore returns the store under configDir, which need not exist yet.
func NewStore(configDir string) *Store { return &Store{dir: configDir} }

// Open returns the store under ConfigDir(getenv).
func Open(getenv func(string) string) (*Store, error) {
	dir, err := ConfigDir(getenv)
	if err != nil {
		return nil, err
	}
	return NewStore(dir), nil
}

// Dir is the config directory the store is under.
func (s *Store) Dir() string { return s.dir }

func (s *Store) metaDir(name string) string {
	return filepath.Join(s.dir, "contexts", "meta", id(name))
}

func (s *Store) tlsDir(name string) string {
	return filepath.Join(s.dir, "contexts", "tls", id(name))
}

func (s *Store) endpointTLSDir(name string) string {
	return filepath.Join(s.tlsDir(name), EndpointName)
}

// StorageInfo says where a context is stored, as docker's inspect shows it.
type StorageInfo struct {
	MetadataPath string
	TLSPath      string
}

// StorageInfo returns where context name is (or would be) stored.
func (s *Store) StorageInfo(name string) StorageInfo {
	return StorageInfo{MetadataPath: s.metaDir(name), TLSPath: s.tlsDir(name)}
}

// TLSFiles are the paths of an endpoint's TLS files, "" for a file it has
// not.
type TLSFiles struct {
	CA, Cert, Key string
}

// Names returns the base names of the files there are, as docker's inspect
// lists a context's TLS material.
func (f TLSFiles) Names() []string {
	var out []string
	for _, p := range []string{f.CA, f.Cert, f.Key} {
		if p != "" {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// Context is a stored context.
type Context struct {
	Name          string
	Description   string
	Host          string // the daemon's address, as -H takes it
	SkipTLSVerify bool   // TLS without checking the daemon's certificate
	// TLS are the context's TLS files in the store; Get and List set it,
	// and the store ignores it otherwise.
	TLS TLSFiles

	// What meta.json holds beside the fields above, written back as it
	// was: its other top-level members, other members of Metadata, other
	// endpoints, other members of the plugdbg endpoint.
	extra, metadata, endpoints, endpoint object
}

// Endpoint returns how to reach the context's daemon: over TLS when the
// context has TLS files or skips verification, as docker reads a context.
func (c Context) Endpoint() Endpoint {
	label := func(file string) string { return fmt.Sprintf("context %q %s", c.Name, file) }
	return Endpoint{
		Host:          c.Host,
		TLS:           c.SkipTLSVerify || c.TLS != (TLSFiles{}),
		SkipTLSVerify: c.SkipTLSVerify,
		CAFile:        c.TLS.CA,
		CertFile:      c.TLS.Cert,
		KeyFile:       c.TLS.Key,
		labels:        [3]string{label(CAFile), label(CertFile), label(KeyFile)},
	}
}

// Object returns the context's meta.json object, unknown members included.
func (c Context) Object() json.RawMessage {
	ep := c.endpoint.clone()
	if c.Host != "" {
		_ = ep.set("Host", c.Host)
	}
	_ = ep.set("SkipTLSVerify", c.SkipTLSVerify)
	eps := c.endpoints.clone()
	eps[EndpointName] = ep.encode("Host", "SkipTLSVerify")
	md := c.metadata.clone()
	if c.Description != "" {
		_ = md.set("Description", c.Description)
	}
	top := c.extra.clone()
	_ = top.set("Name", c.Name)
	top["Metadata"] = md.encode("Description")
	top["Endpoints"] = eps.encode(EndpointName)
	return top.encode("Name", "Metadata", "Endpoints")
}

// decodeMeta reads a meta.json.
func decodeMeta(b []byte) (Context, error) {
	var c Context
	top, err := decodeObject(b)
	if err != nil {
		return c, err
	}
	c.extra = top
	if _, err := top.take("Name", &c.Name); err != nil {
		return c, err
	}
	var md, eps json.RawMessage
	if _, err := top.take("Metadata", &md); err != nil {
		return c, err
	}
	if c.metadata, err = decodeObject(md); err != nil {
		return c, fmt.Errorf("Metadata: %w", err)
	}
	if _, err := c.metadata.take("Description", &c.Description); err != nil {
		return c, fmt.Errorf("Metadata: %w", err)
	}
	if _, err := top.take("Endpoints", &eps); err != nil {
		return c, err
	}
	if c.endpoints, err = decodeObject(eps); err != nil {
		return c, fmt.Errorf("Endpoints: %w", err)
	}
	raw := c.endpoints[EndpointName]
	delete(c.endpoints, EndpointName)
	if c.endpoint, err = decodeObject(raw); err != nil {
		return c, fmt.Errorf("Endpoints.%s: %w", EndpointName, err)
	}
	if _, err := c.endpoint.take("Host", &c.Host); err != nil {
		return c, fmt.Errorf("Endpoints.%s: %w", EndpointName, err)
	}
	if _, err := c.endpoint.take("SkipTLSVerify", &c.SkipTLSVerify); err != nil {
		return c, fmt.Errorf("Endpoints.%s: %w", EndpointName, err)
	}
	return c, nil
}

// Get returns the stored context name.
func (s *Store) Get(name string) (Context, error) {
	if err := ValidateName(name); err != nil {
		return Context{}, err
	}
	path := filepath.Join(s.metaDir(name), metaFile)
	c, err := s.read(path)
	if errors.Is(err, os.ErrNotExist) {
		return Context{}, notFoundError{name: name}
	}
	if err != nil {
		return Context{}, err
	}
	if c.Name != name {
		return Context{}, fmt.Errorf("context %q: %s holds context %q", name, path, c.Name)
	}
	return c, nil
}

func (s *Store) read(path string) (Context, error) {
	b, err := readFile(path)
	if err != nil {
		return Context{}, err
	}
	c, err := decodeMeta(b)
	if err != nil {
		return Context{}, fmt.Errorf("read %s: %w", path, err)
	}
	c.TLS = s.tlsFiles(c.Name)
	return c, nil
}

func (s *Store) tlsFiles(name string) TLSFiles {
	dir := s.endpointTLSDir(name)
	path := func(file string) string {
		if p := filepath.Join(dir, file); exists(p) {
			return p
		}
		return ""
	}
	return TLSFiles{CA: path(CAFile), Cert: path(CertFile), Key: path(KeyFile)}
}

// List returns the stored contexts, sorted by name. A meta.json that cannot
// be read fails the list, naming the file (plugdbg context rm still removes
// its context).
func (s *Store) List() ([]Context, error) {
	root := filepath.Join(s.dir, "contexts", "meta")
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	var out []Context
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := s.read(filepath.Join(root, e.Name(), metaFile))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Create stores a new context: name, description, and e's host and TLS
// setting, with e's TLS files copied into the store when e uses TLS.
func (s *Store) Create(name, description string, e Endpoint) error {
	c := Context{Name: name, Description: description, Host: e.Host}
	var src []tlsSource
	if e.UsesTLS() {
		c.SkipTLSVerify = e.SkipTLSVerify
		for i, f := range []struct{ file, path string }{{CAFile, e.CAFile}, {CertFile, e.CertFile}, {KeyFile, e.KeyFile}} {
			if f.path != "" {
				src = append(src, tlsSource{file: f.file, path: f.path, label: e.label(i)})
			}
		}
	}
	return s.create(c, src)
}

// Copy stores a new context, to, with everything context from has (its
// unknown meta.json members and its TLS files too), and description
// instead of its own unless that is "".
func (s *Store) Copy(from, to, description string) error {
	c, err := s.Get(from)
	if err != nil {
		return err
	}
	c.Name = to
	if description != "" {
		c.Description = description
	}
	var src []tlsSource
	for _, p := range []string{c.TLS.CA, c.TLS.Cert, c.TLS.Key} {
		if p != "" {
			file := filepath.Base(p)
			src = append(src, tlsSource{file: file, path: p, label: fmt.Sprintf("context %q %s", from, file)})
		}
	}
	return s.create(c, src)
}

// tlsSource is a TLS file to copy into the store: as file (ca.pem, …),
// from path, which errors call label.
type tlsSource struct{ file, path, label string }

// create writes c's meta.json and the TLS files of src.
func (s *Store) create(c Context, src []tlsSource) (retErr error) {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if err := checkDescription(c.Description); err != nil {
		return err
	}
	metaDir, tlsDir := s.metaDir(c.Name), s.tlsDir(c.Name)
	metaPath := filepath.Join(metaDir, metaFile)
	if exists(metaPath) {
		return fmt.Errorf("context %q: %w", c.Name, ErrExists)
	}
	meta := c.Object()
	if len(meta) > MaxFileSize {
		return fmt.Errorf("context %q: metadata %w", c.Name, errTooLarge)
	}
	data := map[string][]byte{}
	for _, f := range src {
		b, err := readFile(f.path)
		if err != nil {
			return fmt.Errorf("%s: %w", f.label, err)
		}
		data[f.file] = b
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	// A context is its meta.json, written last: it never exists without
	// its TLS files, and a failed create leaves nothing behind. TLS files
	// left by an earlier create that failed half-way go first.
	if err := os.RemoveAll(tlsDir); err != nil {
		return fmt.Errorf("context %q: %w", c.Name, err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tlsDir)
			os.RemoveAll(metaDir)
		}
	}()
	if len(data) > 0 {
		dir := s.endpointTLSDir(c.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("context %q: %w", c.Name, err)
		}
		for name, b := range data {
			if err := writeFileAtomic(filepath.Join(dir, name), b, 0o600); err != nil {
				return fmt.Errorf("context %q: %w", c.Name, err)
			}
		}
	}
	if err := os.MkdirAll(metaDir, 0o755); err != nil {
		return fmt.Errorf("context %q: %w", c.Name, err)
	}
	if err := writeFileAtomic(metaPath, meta, 0o644); err != nil {
		return fmt.Errorf("context %q: %w", c.Name, err)
	}
	return nil
}

// Remove deletes context name, its TLS files too.
func (s *Store) Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	metaDir, tlsDir := s.metaDir(name), s.tlsDir(name)
	if !exists(metaDir) && !exists(tlsDir) {
		return notFoundError{name: name}
	}
	// Metadata first: a context without it no longer exists, whatever
	// happens to the rest.
	if err := os.RemoveAll(metaDir); err != nil {
		return fmt.Errorf("remove context %q: %w", name, err)
	}
	if err := os.RemoveAll(tlsDir); err != nil {
		return fmt.Errorf("remove context %q TLS files: %w", name, err)
	}
	return nil
}

func (o object) clone() object {
	c := make(object, len(o))
	for k, v := range o {
		c[k] = v
	}
	return c
}
