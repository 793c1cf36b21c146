package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
)

// authHeader carries a request's registry credentials (moby's
// registry.AuthHeader).
const registryAuthHeader = "X-Registry-Auth"

// dockerHub is the key docker login uses for the default registry.
const dockerHub = "https://index.docker.io/v1/"

// authKey is the key of a registry's credentials in the docker CLI's
// config: the registry's host[:port], or dockerHub for Docker Hub.
func authKey(domain string) string {
	switch domain {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", dockerHub:
		return dockerHub
	}
	return domain
}

// RegistryAuth returns the X-Registry-Auth value for a registry (a
// reference's domain, like "docker.io" or "localhost:5000") from the
// docker CLI's config ($DOCKER_CONFIG or ~/.docker/config.json), credential
// helpers included, or, when there is no docker config, from
// $REGISTRY_AUTH_FILE or podman's auth.json; "" when there are no
// credentials for it.
func RegistryAuth(domain string) (string, error) {
	cf, err := loadAuthConfigFile()
	if err != nil {
		return "", fmt.Errorf("registry credentials for %s: %w", domain, err)
	}
	if cf == nil {
		return "", nil
	}
	a, err := cf.GetAuthConfig(authKey(domain))
	if err != nil {
		return "", fmt.Errorf("registry credentials for %s: %w", domain, err)
	}
	if a.Username == "" && a.Password == "" && a.Auth == "" && a.IdentityToken == "" && a.RegistryToken == "" {
		return "", nil
	}
	return encodeAuth(types.AuthConfig{
		Username: a.Username, Password: a.Password, Auth: a.Auth,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
		ServerAddress: domain,
	})
}

// encodeAuth is the X-Registry-Auth form of a: base64url of its JSON, as
// moby's authconfig.Encode writes it. The docker CLI config's AuthConfig
// has the JSON shape of moby's registry.AuthConfig; the client uses it so
// as not to link moby's registry types, which bring image-spec and
// go-digest, and their init, into every CLI process.
func encodeAuth(a types.AuthConfig) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode registry credentials: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// loadAuthConfigFile finds credentials where the docker CLI, and
// after it other registry clients (go-containerregistry's default keychain,
// podman), look: the docker config if there is one, else
// $REGISTRY_AUTH_FILE, else podman's auth.json. nil means none.
func loadAuthConfigFile() (*configfile.ConfigFile, error) {
	home, _ := os.UserHomeDir()
	docker := home != "" && isFile(filepath.Join(home, ".docker", "config.json"))
	if dir := os.Getenv("DOCKER_CONFIG"); !docker && dir != "" {
		docker = isFile(filepath.Join(dir, "config.json"))
	}
	if docker {
		return dockerconfig.Load(dockerconfig.Dir())
	}
	configHome := os.Getenv("XDG_CONFIG_HOME")
	if configHome == "" && home != "" {
		configHome = filepath.Join(home, ".config")
	}
	podman := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	if (os.Getenv("XDG_RUNTIME_DIR") == "" || !isFile(podman)) && configHome != "" {
		podman = filepath.Join(configHome, "containers", "auth.json")
	}
	for _, path := range []string{os.Getenv("REGISTRY_AUTH_FILE"), podman} {
		if path == "" || !isFile(path) {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return dockerconfig.LoadFromReader(f)
	}
	return nil, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// LoginOptions are the inputs of Login.
type LoginOptions struct {
	Server   string // host[:port]; the default registry if empty
	Username string
	Password string
}

// Login has the daemon check the credentials against the registry (POST
// /auth, with the daemon's insecure registries and timeouts), then stores
// them in the docker CLI's config, or its credential store, as `docker
// login` does. It returns the server key they were stored under.
func (c *Client) Login(ctx context.Context, o LoginOptions) (string, error) {
	key := authKey(o.Server)
	var ok struct{ Status, IdentityToken string } // moby's registry.AuthResponse
	in := types.AuthConfig{Username: o.Username, Password: o.Password, ServerAddress: key}
	if err := c.do(ctx, http.MethodPost, "/auth", nil, in, &ok); err != nil {
		return "", err
	}
	cf, err := dockerconfig.Load(dockerconfig.Dir())
	if err != nil {
		return "", fmt.Errorf("load docker config: %w", err)
	}
	stored := types.AuthConfig{Username: o.Username, Password: o.Password, ServerAddress: key}
	if ok.IdentityToken != "" {
		// As docker login: the token stands for the password from now on.
		stored.Password, stored.IdentityToken = "", ok.IdentityToken
	}
	if err := cf.GetCredentialsStore(key).Store(stored); err != nil {
		return "", fmt.Errorf("store credentials for %s: %w", key, err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("save docker config: %w", err)
	}
	return key, nil
}
