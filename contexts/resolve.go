package contexts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plugdbg/plugdbg/api/types"
)

// Flags are the global flags that choose the daemon, as the user gave
// them: "" or nil for a flag not given. The environment supplies what the
// flags leave out.
type Flags struct {
	Host      string // -H/--host
	Context   string // -c/--context
	TLS       *bool  // --tls
	TLSVerify *bool  // --tlsverify
	TLSCACert string // --tlscacert
	TLSCert   string // --tlscert
	TLSKey    string // --tlskey
}

// ErrConflict is the error of --host and --context given together.
var ErrConflict = errors.New("conflicting options: cannot specify both --host and --context")

// Choice is the context a command uses and what chose it.
type Choice struct {
	Name   string // DefaultName for the flags and environment
	Source string // "--context", "--host", "PLUGDBG_HOST", "PLUGDBG_CONTEXT", "config.json"; "" when nothing chose
}

// ChooseContext returns the context to use, with docker's precedence
// (docker/cli cli/command/cli.go resolveContextName): --context; the
// default if -H is given or PLUGDBG_HOST is set; PLUGDBG_CONTEXT; the
// currentContext of config.json, which current returns and is called only
// when needed; the default. It does not check that the context exists.
func ChooseContext(f Flags, getenv func(string) string, current func() (string, error)) (Choice, error) {
	switch {
	case f.Host != "" && f.Context != "":
		return Choice{}, ErrConflict
	case f.Context != "":
		return Choice{f.Context, "--context"}, nil
	case f.Host != "":
		return Choice{DefaultName, "--host"}, nil
	case getenv(EnvHost) != "":
		return Choice{DefaultName, EnvHost}, nil
	case getenv(EnvContext) != "":
		return Choice{getenv(EnvContext), EnvContext}, nil
	}
	name, err := current()
	if err != nil {
		return Choice{}, err
	}
	if name != "" {
		return Choice{name, configFile}, nil
	}
	return Choice{DefaultName, ""}, nil
}

// LocalHost is the host of the default context: -H, else PLUGDBG_HOST,
// else the daemon's default socket.
func LocalHost(f Flags, getenv func(string) string) string {
	switch {
	case f.Host != "":
		return f.Host
	case getenv(EnvHost) != "":
		return getenv(EnvHost)
	}
	return types.DefaultHost
}

// DefaultEndpoint returns the endpoint of the default context, with
// docker's rules for the TLS flags and variables: --tlsverify given at all
// (even =false) or PLUGDBG_TLS_VERIFY non-empty turns TLS on, as --tls or
// PLUGDBG_TLS does; the daemon's certificate is checked only with
// --tlsverify (or PLUGDBG_TLS_VERIFY); a file flag not given defaults to
// ca.pem, cert.pem or key.pem in $PLUGDBG_CERT_PATH, else in the config
// directory. A default client certificate or key that is not there is
// left out (the daemon may not ask for one), and so is a default CA that
// is not there when the certificate is not checked. TLS applies to tcp://
// hosts only: for another, the TLS settings are ignored and no file is
// looked at. Errors name the flag and the file.
func DefaultEndpoint(f Flags, getenv func(string) string) (Endpoint, error) {
	verify := getenv(EnvTLSVerify) != ""
	if f.TLSVerify != nil {
		verify = *f.TLSVerify
	}
	useTLS := getenv(EnvTLS) != ""
	if f.TLS != nil {
		useTLS = *f.TLS
	}
	if f.TLSVerify != nil || verify {
		useTLS = true
	}
	e := Endpoint{Host: LocalHost(f, getenv), TLS: useTLS, SkipTLSVerify: !verify}
	if !e.UsesTLS() {
		return e, nil
	}
	dir, dirName := getenv(EnvCertPath), "$"+EnvCertPath
	if dir == "" {
		var err error
		if dir, err = ConfigDir(getenv); err != nil {
			return Endpoint{}, fmt.Errorf("TLS files: %w", err)
		}
		dirName = "the config directory"
	}
	for i, file := range []struct {
		flag, given, name string
		required          bool
	}{
		{"--tlscacert", f.TLSCACert, CAFile, verify},
		{"--tlscert", f.TLSCert, CertFile, false},
		{"--tlskey", f.TLSKey, KeyFile, false},
	} {
		path, label := file.given, file.flag
		if path == "" {
			path = filepath.Join(dir, file.name)
			label = fmt.Sprintf("%s (default: %s in %s)", file.flag, file.name, dirName)
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !file.required {
				path = ""
			}
		}
		e.labels[i] = label
		switch i {
		case 0:
			e.CAFile = path
		case 1:
			e.CertFile = path
		case 2:
			e.KeyFile = path
		}
	}
	if err := e.checkFiles(); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// Resolved is the endpoint a command talks to and the context it is.
type Resolved struct {
	Choice
	Endpoint Endpoint
}

// Resolve returns the endpoint f and the environment choose: the default
// context's (DefaultEndpoint), or a stored context's from the store under
// ConfigDir(getenv), which is looked at only when needed.
func Resolve(f Flags, getenv func(string) string) (Resolved, error) {
	var store *Store
	open := func() (*Store, error) {
		if store != nil {
			return store, nil
		}
		var err error
		store, err = Open(getenv)
		return store, err
	}
	choice, err := ChooseContext(f, getenv, func() (string, error) {
		s, err := open()
		if err != nil {
			return "", err
		}
		return s.Current()
	})
	if err != nil {
		return Resolved{}, err
	}
	r := Resolved{Choice: choice}
	if choice.Name == DefaultName {
		r.Endpoint, err = DefaultEndpoint(f, getenv)
		return r, err
	}
	s, err := open()
	if err != nil {
		return Resolved{}, err
	}
	c, err := s.Get(choice.Name)
	if errors.Is(err, ErrNotFound) {
		return Resolved{}, notFoundError{name: choice.Name, source: choice.Source}
	}
	if err != nil {
		return Resolved{}, fmt.Errorf("context %q (from %s): %w", choice.Name, choice.Source, err)
	}
	if c.Host == "" {
		return Resolved{}, fmt.Errorf("context %q (from %s) has no %s endpoint host", choice.Name, choice.Source, EndpointName)
	}
	r.Endpoint = c.Endpoint()
	return r, nil
}
