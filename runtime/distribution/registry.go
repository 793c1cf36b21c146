// Package distribution moves managed plugins between registries and the
// local store, in the image shape Docker uses for plugins: a schema2 (or
// OCI) manifest whose config blob is the plugin's config.json, with media
// type application/vnd.docker.plugin.v1+json, and whose layers make up its
// rootfs.
//
// Pull verifies every blob against its digest, checks rootfs.diff_ids
// against the layers (accepting the compressed digests that Docker 20.10 and
// later record there), and unpacks the layers through runtime/archive, which
// keeps every write inside the rootfs. Push builds one gzip layer from a
// plugin's rootfs and pushes it with Docker's media types so that dockerd
// installs it.
//
// Plain HTTP is used only for loopback registries and for hosts configured
// as insecure, as dockerd does. Every step of a request (connect, TLS
// handshake, sending, response headers, each wait for body data) is
// bounded by Options.Timeout, so that a registry that accepts connections
// and then says nothing fails the operation with a TimeoutError naming the
// registry and the step. A Registry is safe for concurrent use.
package distribution

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
	"github.com/plugdbg/plugdbg/errkind"
)

// Media types of a plugin image.
const (
	MediaTypePluginConfig = "application/vnd.docker.plugin.v1+json"
	mediaTypeManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// Options configure a Registry.
type Options struct {
	// InsecureRegistries are hosts ("host" or "host:port") reached over
	// plain HTTP, and over HTTPS without certificate checks, like dockerd's
	// --insecure-registry. Loopback hosts are always allowed plain HTTP.
	InsecureRegistries []string
	// UserAgent is sent with every request.
	UserAgent string
	// Transport is the HTTP transport underneath (tests), which New
	// clones; the default is http.DefaultTransport.
	Transport *http.Transport
	// Retries is how often a request failing with a network error is
	// tried again; the default is 2, and a negative value means none.
	Retries int
	// Timeout bounds each step of a request while it makes no progress:
	// connecting, the TLS handshake, sending the request body, waiting
	// for the response headers, and each wait for more of a response
	// body. A transfer that keeps moving is never cut off, however long
	// it takes. Zero or less means DefaultTimeout; see CheckTimeout for
	// the values a user may give.
	Timeout time.Duration
}

// Registry talks to registries for pulls, pushes and logins.
type Registry struct {
	opts     Options
	plain    *http.Transport
	insecure *http.Transport
}

// New returns a Registry with opts.
func New(opts Options) *Registry {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	var base *http.Transport
	if opts.Transport != nil {
		base = opts.Transport.Clone()
	} else {
		base = http.DefaultTransport.(*http.Transport).Clone()
		base.DialContext = nil // its dialer gives up after 30 s whatever the bound
	}
	boundTransport(base, opts.Timeout)
	insecure := base.Clone()
	if insecure.TLSClientConfig == nil {
		insecure.TLSClientConfig = &tls.Config{}
	}
	insecure.TLSClientConfig.InsecureSkipVerify = true
	if opts.UserAgent == "" {
		opts.UserAgent = "plugdbg"
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	return &Registry{opts: opts, plain: base, insecure: insecure}
}

// Ref is a resolved remote plugin reference.
type Ref struct {
	// Named is the normalized reference, with a tag or a digest, as Docker
	// records it in PluginReference ("docker.io/vieux/sshfs:latest").
	Named reference.Named
	// Tag is the tag given beside a digest ("name:tag@sha256:…"), which
	// names the local plugin; empty otherwise.
	Tag  string
	ggcr name.Reference
}

// String is the normalized reference.
func (r Ref) String() string { return r.Named.String() }

// LocalName is the local plugin name a pull gives by default: the familiar
// form with a tag ("vieux/sshfs:latest"), as dockerd's pull route does.
func (r Ref) LocalName() string {
	if c, ok := r.Named.(reference.Canonical); ok {
		trimmed := reference.TrimNamed(c)
		if r.Tag != "" {
			if nt, err := reference.WithTag(trimmed, r.Tag); err == nil {
				return reference.FamiliarString(nt)
			}
		}
		return reference.FamiliarString(reference.TagNameOnly(trimmed))
	}
	return reference.FamiliarString(r.Named)
}

// ParseRef resolves a remote reference as Docker does: the default registry
// and the "library/" namespace are filled in, ":latest" is added when
// neither a tag nor a digest is given, and a reference with both keeps the
// digest for pulling and the tag for the local name.
func (g *Registry) ParseRef(remote string) (Ref, error) {
	named, err := reference.ParseNormalizedNamed(remote)
	if err != nil {
		return Ref{}, errkind.Invalid(fmt.Errorf("invalid reference %q: %w", remote, err))
	}
	var tag string
	type canonicalTagged interface {
		reference.Canonical
		Tag() string
	}
	if ct, ok := named.(canonicalTagged); ok {
		tag = ct.Tag()
		if named, err = reference.WithDigest(reference.TrimNamed(named), ct.Digest()); err != nil {
			return Ref{}, errkind.Invalid(err)
		}
	} else {
		named = reference.TagNameOnly(named)
	}
	var nopts []name.Option
	if g.isInsecure(reference.Domain(named)) {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(named.String(), nopts...)
	if err != nil {
		return Ref{}, errkind.Invalid(fmt.Errorf("invalid reference %q: %w", remote, err))
	}
	return Ref{Named: named, Tag: tag, ggcr: ref}, nil
}

// isInsecure reports whether host was configured as an insecure registry.
func (g *Registry) isInsecure(host string) bool {
	return slices.Contains(g.opts.InsecureRegistries, host)
}

// plainHTTPAllowed reports whether host (host:port of a request) may be
// reached over plain HTTP: loopback hosts and insecure registries.
func (g *Registry) plainHTTPAllowed(hostport string) bool {
	if g.isInsecure(hostport) {
		return true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if g.isInsecure(host) || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RoundTrip refuses plain HTTP to hosts that are not allowed it, skips
// certificate checks for insecure registries, and bounds each step of the
// request and of reading its response body by Options.Timeout.
func (g *Registry) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !g.plainHTTPAllowed(r.URL.Host) {
		return nil, fmt.Errorf("registry %s: plain HTTP is allowed only for loopback hosts and --insecure-registry hosts", r.URL.Host)
	}
	if g.isInsecure(r.URL.Host) || g.isInsecure(r.URL.Hostname()) {
		return g.watched(g.insecure, r)
	}
	return g.watched(g.plain, r)
}

// Authenticator turns a Docker auth config (X-Registry-Auth) into a
// go-containerregistry authenticator; an empty one is anonymous.
func Authenticator(a registry.AuthConfig) authn.Authenticator {
	if a.Username == "" && a.Password == "" && a.Auth == "" && a.IdentityToken == "" && a.RegistryToken == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password, Auth: a.Auth,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
}

// remoteOptions authenticates against ref's registry with Docker's plugin
// scope ("repository(plugin):<path>:<actions>") and returns the options for
// go-containerregistry's remote calls.
func (g *Registry) remoteOptions(ctx context.Context, ref name.Reference, auth registry.AuthConfig, actions ...string) ([]remote.Option, error) {
	backoff := remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: max(g.opts.Retries, 0) + 1}
	var base http.RoundTripper = g
	base = transport.NewRetry(base, transport.WithRetryBackoff(backoff))
	base = transport.NewUserAgent(base, g.opts.UserAgent)
	repo := ref.Context()
	scope := "repository(plugin):" + repo.RepositoryStr() + ":" + strings.Join(actions, ",")
	tr, err := transport.NewWithContext(ctx, repo.Registry, Authenticator(auth), base, []string{scope})
	if err != nil {
		return nil, classify(fmt.Errorf("registry %s: %w", repo.RegistryStr(), err))
	}
	if _, ok := tr.(*transport.Wrapper); ok {
		return []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr)}, nil
	}
	// The registry wants no authentication: let remote wrap the transport
	// itself (its answer to the ping is cached per call, so this costs one
	// more GET /v2/).
	return []remote.Option{
		remote.WithContext(ctx), remote.WithTransport(g), remote.WithUserAgent(g.opts.UserAgent),
		remote.WithRetryBackoff(backoff),
	}, nil
}

// CheckLogin reports whether auth is accepted by the registry at host
// ("host[:port]"): a token exchange for registries that hand out tokens,
// an authenticated GET /v2/ otherwise.
func (g *Registry) CheckLogin(ctx context.Context, host string, auth registry.AuthConfig) error {
	var nopts []name.Option
	if g.isInsecure(host) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return errkind.Invalid(fmt.Errorf("invalid registry %q: %w", host, err))
	}
	tr, err := transport.NewWithContext(ctx, reg, Authenticator(auth), g, nil)
	if err != nil {
		return classify(fmt.Errorf("login to %s: %w", host, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return classify(fmt.Errorf("login to %s: %w", host, err))
	}
	return nil
}
