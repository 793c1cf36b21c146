package client

import (
	"context"
	"fmt"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/runtime/distribution"
)

// dockerHub is the key docker login uses for the default registry.
const dockerHub = "https://index.docker.io/v1/"

// registryHost maps a reference's domain to the registry host name
// go-containerregistry uses ("docker.io" is served by "index.docker.io").
func registryHost(domain string) (name.Registry, error) {
	reg, err := name.NewRegistry(domain)
	if err != nil {
		return name.Registry{}, fmt.Errorf("invalid registry %q: %w", domain, err)
	}
	return reg, nil
}

// RegistryAuth returns the X-Registry-Auth value for a registry (a
// reference's domain, like "docker.io" or "localhost:5000") from the
// docker CLI's config ($DOCKER_CONFIG or ~/.docker/config.json), credential
// helpers included; "" when there are no credentials for it.
func RegistryAuth(domain string) (string, error) {
	reg, err := registryHost(domain)
	if err != nil {
		return "", err
	}
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return "", fmt.Errorf("registry credentials for %s: %w", domain, err)
	}
	if a == authn.Anonymous {
		return "", nil
	}
	c, err := authn.Authorization(context.Background(), a)
	if err != nil {
		return "", fmt.Errorf("registry credentials for %s: %w", domain, err)
	}
	return authconfig.Encode(registry.AuthConfig{
		Username: c.Username, Password: c.Password, Auth: c.Auth,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
		ServerAddress: domain,
	})
}

// LoginOptions are the inputs of Login.
type LoginOptions struct {
	Server   string // host[:port]; the default registry if empty
	Username string
	Password string
	// InsecureRegistries may be reached over plain HTTP (loopback hosts
	// always may).
	InsecureRegistries []string
}

// Login checks the credentials against the registry and stores them in the
// docker CLI's config, or its credential store, as `docker login` does. It
// returns the server key they were stored under.
func Login(ctx context.Context, o LoginOptions) (string, error) {
	key, domain := o.Server, o.Server
	if domain == "" || domain == "docker.io" || domain == "index.docker.io" || domain == dockerHub {
		key, domain = dockerHub, "index.docker.io"
	}
	reg := distribution.New(distribution.Options{InsecureRegistries: o.InsecureRegistries})
	auth := registry.AuthConfig{Username: o.Username, Password: o.Password}
	if err := reg.CheckLogin(ctx, domain, auth); err != nil {
		return "", err
	}
	cf, err := dockerconfig.Load(dockerconfig.Dir())
	if err != nil {
		return "", fmt.Errorf("load docker config: %w", err)
	}
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{
		Username: o.Username, Password: o.Password, ServerAddress: key,
	}); err != nil {
		return "", fmt.Errorf("store credentials for %s: %w", key, err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("save docker config: %w", err)
	}
	return key, nil
}
