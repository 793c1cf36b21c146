package contexts

import (
	"encoding/json"
	"fmt"
	"sort"
)

// DefaultDescription describes the default context, as docker's
// "Current DOCKER_HOST based configuration".
const DefaultDescription = "Current " + EnvHost + " based configuration"

// CurrentChoice returns the context the flags and environment choose, as
// ChooseContext, with config.json read from s.
func (s *Store) CurrentChoice(f Flags, getenv func(string) string) (Choice, error) {
	return ChooseContext(f, getenv, s.Current)
}

// Listed is a context as `plugdbg context ls` shows it.
type Listed struct {
	Name        string
	Description string
	Host        string
	Current     bool
	Error       string // what is wrong with it, if anything
}

// ListAll returns the default context and the stored ones, sorted by name,
// marking the one f and the environment choose as current; a current
// context that does not exist is listed with the error.
func (s *Store) ListAll(f Flags, getenv func(string) string) ([]Listed, error) {
	choice, err := s.CurrentChoice(f, getenv)
	if err != nil {
		return nil, err
	}
	stored, err := s.List()
	if err != nil {
		return nil, err
	}
	out := []Listed{{Name: DefaultName, Description: DefaultDescription, Host: LocalHost(f, getenv), Current: choice.Name == DefaultName}}
	found := choice.Name == DefaultName
	for _, c := range stored {
		l := Listed{Name: c.Name, Description: c.Description, Host: c.Host, Current: c.Name == choice.Name}
		if c.Host == "" {
			l.Error = "no " + EndpointName + " endpoint"
		}
		found = found || l.Current
		out = append(out, l)
	}
	if !found {
		out = append(out, Listed{Name: choice.Name, Current: true, Error: notFoundError{choice.Name, choice.Source}.Error()})
	}
	sortListed(out)
	return out, nil
}

func sortListed(l []Listed) {
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
}

// Inspect returns context name as `plugdbg context inspect` shows it,
// docker's shape: meta.json's object with TLSMaterial (the names of the TLS
// files there are, never their contents) and Storage (where it is). The
// default context is made from f and the environment, and stored nowhere.
func (s *Store) Inspect(name string, f Flags, getenv func(string) string) (json.RawMessage, error) {
	var (
		o       object
		files   []string
		storage StorageInfo
	)
	if name == DefaultName {
		e, err := DefaultEndpoint(f, getenv)
		if err != nil {
			return nil, err
		}
		c := Context{Name: DefaultName, Description: DefaultDescription, Host: e.Host}
		if e.UsesTLS() {
			c.SkipTLSVerify = e.SkipTLSVerify
			for i, p := range e.files() {
				if p != "" {
					files = append(files, [3]string{CAFile, CertFile, KeyFile}[i])
				}
			}
		}
		if o, err = decodeObject(c.Object()); err != nil {
			return nil, err
		}
		storage = StorageInfo{MetadataPath: "<IN MEMORY>", TLSPath: "<IN MEMORY>"}
	} else {
		c, err := s.Get(name)
		if err != nil {
			return nil, err
		}
		if o, err = decodeObject(c.Object()); err != nil {
			return nil, err
		}
		files = c.TLS.Names()
		storage = s.StorageInfo(name)
	}
	material := map[string][]string{}
	if len(files) > 0 {
		material[EndpointName] = files
	}
	if err := o.set("TLSMaterial", material); err != nil {
		return nil, err
	}
	if err := o.set("Storage", storage); err != nil {
		return nil, fmt.Errorf("inspect %q: %w", name, err)
	}
	return o.encode("Name", "Metadata", "Endpoints", "TLSMaterial", "Storage"), nil
}
