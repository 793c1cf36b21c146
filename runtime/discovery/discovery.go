// Package discovery publishes plugdbg's plugins for Docker's legacy plugin
// discovery: a symlink <dir>/<name>.sock to the plugin's socket, which
// dockerd finds by name when a volume, network or IPAM driver of that name
// is asked for and no managed plugin of its own has it (reference doc
// §5.5, §5.6). dockerd stats the path, so a symlink to a socket passes its
// S_IFSOCK check, and it dials the path anew for every connection, so the
// link keeps working across plugin restarts and through a trace proxy.
package discovery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDir is where dockerd looks for legacy plugin sockets first.
const DefaultDir = "/run/docker/plugins"

// Name is the name dockerd resolves a plugin by: the plugin's name without
// the ":latest" tag ("vol:latest" → "vol", "me/vol:v2" → "me/vol:v2").
func Name(pluginName string) string {
	return strings.TrimSuffix(pluginName, ":latest")
}

// Path is where plugin pluginName's link goes under dir.
func Path(dir, pluginName string) string {
	return filepath.Join(dir, Name(pluginName)+".sock")
}

// Publish makes <dir>/<name>.sock a symlink to socket, atomically (a link
// under a temporary name, then a rename over whatever was there), creating
// the directories a name with '/' needs. A regular socket or file of
// another program at the path is refused rather than replaced.
func Publish(dir, pluginName, socket string) (string, error) {
	link := Path(dir, pluginName)
	if !filepath.IsAbs(socket) {
		return "", fmt.Errorf("publish %s: socket path %q is not absolute", pluginName, socket)
	}
	if fi, err := os.Lstat(link); err == nil && fi.Mode().Type() != os.ModeSymlink {
		return "", fmt.Errorf("publish %s: %s exists and is not a link plugdbg made", pluginName, link)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", fmt.Errorf("publish %s: %w", pluginName, err)
	}
	tmp := filepath.Join(filepath.Dir(link), "."+filepath.Base(link)+".plugdbg-tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(socket, tmp); err != nil {
		return "", fmt.Errorf("publish %s: %w", pluginName, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("publish %s: %w", pluginName, err)
	}
	return link, nil
}

// Unpublish removes <dir>/<name>.sock if it is still a symlink to socket;
// a link that now points elsewhere (another runtime took the name) or a
// real socket is left alone. Directories Publish made for a name with '/'
// are removed when empty, up to dir.
func Unpublish(dir, pluginName, socket string) error {
	link := Path(dir, pluginName)
	fi, err := os.Lstat(link)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unpublish %s: %w", pluginName, err)
	}
	if fi.Mode().Type() != os.ModeSymlink {
		return nil // not ours
	}
	target, err := os.Readlink(link)
	if err != nil {
		return fmt.Errorf("unpublish %s: %w", pluginName, err)
	}
	if target != socket {
		return nil
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unpublish %s: %w", pluginName, err)
	}
	clean := filepath.Clean(dir)
	for d := filepath.Dir(link); d != clean && strings.HasPrefix(d, clean+"/"); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// Published returns the link's path if <dir>/<name>.sock is a symlink to
// socket, and "" otherwise.
func Published(dir, pluginName, socket string) string {
	link := Path(dir, pluginName)
	if target, err := os.Readlink(link); err == nil && target == socket {
		return link
	}
	return ""
}
