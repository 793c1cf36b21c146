package contexts

import (
	"fmt"
	"strings"

	"github.com/plugdbg/plugdbg/client"
)

// Bounds of what `plugdbg context create` stores.
const (
	MaxHostLen        = 2048
	MaxDescriptionLen = 4096
)

// CreateFlags are the endpoint flags of `plugdbg context create`, the
// global flags' names with the same meaning, but without their defaults
// from the environment: a context holds what its creator gave.
type CreateFlags struct {
	Host      string // --host
	TLS       bool   // --tls: TLS, without checking the daemon's certificate unless --tlsverify
	TLSVerify bool   // --tlsverify
	TLSCACert string // --tlscacert
	TLSCert   string // --tlscert
	TLSKey    string // --tlskey
}

// Endpoint checks the flags and returns the endpoint they describe; errors
// name the flag. TLS needs a tcp:// host. A TLS file given without --tls or
// --tlsverify implies --tlsverify, as docker's `context create --docker
// ca=…` verifies; verifying needs --tlscacert.
func (f CreateFlags) Endpoint() (Endpoint, error) {
	switch {
	case f.Host == "":
		return Endpoint{}, fmt.Errorf("--host: required (unix:///path, tcp://host:port or ssh://[user@]host[:port][/path]), or --from a context")
	case len(f.Host) > MaxHostLen:
		return Endpoint{}, fmt.Errorf("--host: longer than %d bytes", MaxHostLen)
	}
	if _, err := client.NewWithOptions(client.Options{Host: f.Host}); err != nil {
		return Endpoint{}, fmt.Errorf("--host: %w", err)
	}
	var given []string
	for _, g := range []struct {
		name string
		set  bool
	}{{"--tls", f.TLS}, {"--tlsverify", f.TLSVerify}, {"--tlscacert", f.TLSCACert != ""}, {"--tlscert", f.TLSCert != ""}, {"--tlskey", f.TLSKey != ""}} {
		if g.set {
			given = append(given, g.name)
		}
	}
	e := Endpoint{Host: f.Host, labels: [3]string{"--tlscacert", "--tlscert", "--tlskey"}}
	if len(given) == 0 {
		return e, nil
	}
	if !strings.HasPrefix(f.Host, "tcp://") {
		return Endpoint{}, fmt.Errorf("%s: TLS is for tcp:// hosts, not %s", strings.Join(given, ", "), f.Host)
	}
	e.TLS = true
	e.SkipTLSVerify = f.TLS && !f.TLSVerify
	e.CAFile, e.CertFile, e.KeyFile = f.TLSCACert, f.TLSCert, f.TLSKey
	if !e.SkipTLSVerify && e.CAFile == "" {
		why := "--tlsverify"
		if !f.TLSVerify {
			why = given[0] + " without --tls implies --tlsverify, which"
		}
		return Endpoint{}, fmt.Errorf("%s needs --tlscacert, the CA that signed the daemon's certificate (or --tls without --tlsverify, not to check it)", why)
	}
	if err := e.checkFiles(); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

func checkDescription(d string) error {
	if len(d) > MaxDescriptionLen {
		return fmt.Errorf("description: longer than %d bytes", MaxDescriptionLen)
	}
	return nil
}
