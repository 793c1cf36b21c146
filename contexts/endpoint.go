package contexts

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/docker/go-connections/tlsconfig"
)

// Endpoint is a daemon's address and how to reach it.
type Endpoint struct {
	Host string // unix:///path, tcp://host:port or ssh://[user@]host[:port][/path]
	// TLS says whether a tcp:// host is reached over TLS. Other hosts
	// ignore it, as docker does: ssh has its own encryption, a unix socket
	// its file permissions.
	TLS           bool
	SkipTLSVerify bool // TLS without checking the daemon's certificate (docker's --tls without --tlsverify)
	// The TLS files: the CA that signed the daemon's certificate and the
	// client's certificate and key; "" for none.
	CAFile, CertFile, KeyFile string

	// labels name where CAFile, CertFile and KeyFile came from (a flag, a
	// variable, a context) in errors.
	labels [3]string
}

// UsesTLS reports whether the connection to the endpoint is TLS: TLS is on
// and the host is tcp://.
func (e Endpoint) UsesTLS() bool { return e.TLS && strings.HasPrefix(e.Host, "tcp://") }

func (e Endpoint) label(i int) string {
	if e.labels[i] != "" {
		return e.labels[i]
	}
	return [3]string{"TLS CA certificate", "TLS certificate", "TLS key"}[i]
}

func (e Endpoint) files() [3]string { return [3]string{e.CAFile, e.CertFile, e.KeyFile} }

// checkFiles checks that every TLS file the endpoint names is there, a
// regular file of at most MaxFileSize bytes, and that a certificate comes
// with its key; errors name the file's origin (the flag) and its path.
func (e Endpoint) checkFiles() error {
	for i, p := range e.files() {
		if p == "" {
			continue
		}
		if err := checkFile(p); err != nil {
			return fmt.Errorf("%s: %w", e.label(i), err)
		}
	}
	switch {
	case e.CertFile != "" && e.KeyFile == "":
		return fmt.Errorf("%s %s has no key: %s names none", e.label(1), e.CertFile, e.label(2))
	case e.KeyFile != "" && e.CertFile == "":
		return fmt.Errorf("%s %s has no certificate: %s names none", e.label(2), e.KeyFile, e.label(1))
	}
	return nil
}

// TLSConfig returns the client's TLS configuration for the endpoint, nil
// when it uses none (see UsesTLS). The CA file, when there is one, is the
// only root the daemon's certificate may chain to.
func (e Endpoint) TLSConfig() (*tls.Config, error) {
	if !e.UsesTLS() {
		return nil, nil
	}
	if err := e.checkFiles(); err != nil {
		return nil, err
	}
	cfg, err := tlsconfig.Client(tlsconfig.Options{
		CAFile:             e.CAFile,
		CertFile:           e.CertFile,
		KeyFile:            e.KeyFile,
		InsecureSkipVerify: e.SkipTLSVerify,
		ExclusiveRootPools: true,
	})
	if err != nil {
		return nil, fmt.Errorf("TLS configuration for %s: %w", e.Host, err)
	}
	return cfg, nil
}
