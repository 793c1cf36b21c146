package contexts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The environment variables that choose the daemon, docker's with
// PLUGDBG_ for DOCKER_.
const (
	EnvConfig    = "PLUGDBG_CONFIG"     // the config directory
	EnvHost      = "PLUGDBG_HOST"       // the default context's host
	EnvContext   = "PLUGDBG_CONTEXT"    // the context to use
	EnvCertPath  = "PLUGDBG_CERT_PATH"  // the directory of ca.pem, cert.pem, key.pem
	EnvTLSVerify = "PLUGDBG_TLS_VERIFY" // non-empty: TLS, checking the daemon's certificate
	EnvTLS       = "PLUGDBG_TLS"        // non-empty: TLS
)

const configFile = "config.json"

// ConfigDir returns plugdbg's config directory: $PLUGDBG_CONFIG, or
// plugdbg in the user's config directory (~/.config/plugdbg on Linux,
// ~/Library/Application Support/plugdbg on macOS, %AppData%\plugdbg on
// Windows).
func ConfigDir(getenv func(string) string) (string, error) {
	if d := getenv(EnvConfig); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (set %s): %w", EnvConfig, err)
	}
	return filepath.Join(d, "plugdbg"), nil
}

// readConfig returns config.json's members, none if it does not exist.
func (s *Store) readConfig() (object, error) {
	path := filepath.Join(s.dir, configFile)
	b, err := readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	o, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return o, nil
}

// Current returns the context `plugdbg context use` chose, as config.json's
// currentContext says: "" for none (the default context).
func (s *Store) Current() (string, error) {
	o, err := s.readConfig()
	if err != nil {
		return "", err
	}
	var name string
	if raw, ok := o["currentContext"]; ok {
		if err := json.Unmarshal(raw, &name); err != nil {
			return "", fmt.Errorf("read %s: currentContext: %w", filepath.Join(s.dir, configFile), err)
		}
	}
	return name, nil
}

// SetCurrent makes name the current context in config.json, keeping the
// file's other members; DefaultName clears it. name must be stored. An
// unchanged file is not written (nor created, for the default).
func (s *Store) SetCurrent(name string) error {
	value := ""
	if name != DefaultName {
		if _, err := s.Get(name); err != nil {
			return err
		}
		value = name
	}
	o, err := s.readConfig()
	if err != nil {
		return err
	}
	var old string
	if raw, ok := o["currentContext"]; ok {
		_ = json.Unmarshal(raw, &old)
	}
	if old == value {
		return nil
	}
	if value == "" {
		delete(o, "currentContext") // docker's omitempty
	} else if err := o.set("currentContext", value); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, o.encode(), "", "\t"); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	b.WriteByte('\n')
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.dir, configFile), b.Bytes(), 0o600)
}
