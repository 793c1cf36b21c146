package webui

import (
	"embed"
	"io/fs"
)

// dist holds the bundle `make webui` builds from frontend/ (esbuild). The
// repository keeps only dist/README.md there, so that the package builds
// without node; Assets then serves the placeholder page instead.
//
//go:embed all:dist
var dist embed.FS

//go:embed placeholder
var placeholder embed.FS

// Assets returns the web UI's files: the built bundle when dist has an
// index.html, else a placeholder page that says how to build it.
func Assets() fs.FS {
	if _, err := fs.Stat(dist, "dist/index.html"); err == nil {
		sub, _ := fs.Sub(dist, "dist")
		return sub
	}
	sub, _ := fs.Sub(placeholder, "placeholder")
	return sub
}

// Built reports whether the binary embeds the real bundle rather than the
// placeholder.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}
