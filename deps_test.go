package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/plugdbg/plugdbg"

// listedPackage is the part of `go list -json` output the fences need.
type listedPackage struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // all transitive imports
	DepOnly    bool
	Standard   bool     // in the standard library
	CgoFiles   []string // files that import "C"
}

// listPackages runs `go list -deps -json` on patterns and returns the
// packages the patterns name (not their dependencies), by import path.
func listPackages(t *testing.T, patterns ...string) map[string]listedPackage {
	t.Helper()
	pkgs := map[string]listedPackage{}
	for _, p := range listGraph(t, nil, patterns...) {
		if !p.DepOnly {
			pkgs[p.ImportPath] = p
		}
	}
	return pkgs
}

// listGraph runs `go list -deps -json` on patterns with env added to the
// environment and returns every package of the graph, dependencies
// included.
func listGraph(t *testing.T, env []string, patterns ...string) []listedPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-json"}, patterns...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list %v: %s", env, stderr.String())
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations lists, for each package, the imports (direct or transitive)
// that start with one of the forbidden prefixes.
func violations(pkgs map[string]listedPackage, forbidden []string, direct bool) []string {
	var out []string
	for _, p := range pkgs {
		imports := p.Deps
		if direct {
			imports = p.Imports
		}
		for _, imp := range imports {
			for _, f := range forbidden {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					out = append(out, p.ImportPath+" imports "+imp)
				}
			}
		}
	}
	return out
}

// TestDependencyFences keeps the layering of STYLE.md §15: the protocol and
// log libraries stay independent of the runtime, and the CLI reaches
// libcontainer only through the daemon's packages.
func TestDependencyFences(t *testing.T) {
	tests := []struct {
		name      string
		patterns  []string
		forbidden []string
		direct    bool // only direct imports count
	}{
		{
			name:      "probe does not depend on runtime",
			patterns:  []string{"./probe/..."},
			forbidden: []string{module + "/runtime"},
		},
		{
			name:      "logs does not depend on runtime",
			patterns:  []string{"./logs/..."},
			forbidden: []string{module + "/runtime"},
		},
		{
			name:      "the error kinds are a leaf every package may use, the pure-Go client too",
			patterns:  []string{"./errkind"},
			forbidden: []string{module},
		},
		{
			name:      "the exec session protocol stays free of the runtime, for other transports",
			patterns:  []string{"./api/execproto"},
			forbidden: []string{module + "/runtime/manager", module + "/runtime/container", "github.com/opencontainers/runc"},
		},
		{
			// Each container start runs this binary twice (the monitor,
			// then the init): what it links costs every start its init.
			name:     "the monitor binary links neither the daemon's API, registry client nor metrics",
			patterns: []string{"./cmd/plugdbgd-monitor"},
			forbidden: []string{module + "/runtime/manager", module + "/runtime/api", module + "/runtime/distribution",
				module + "/daemon", module + "/webui", "github.com/prometheus", "github.com/distribution",
				"github.com/google/go-containerregistry", "github.com/spf13/cobra", "net/http"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs := listPackages(t, tt.patterns...)
			require.NotEmpty(t, pkgs, "no package matches %v", tt.patterns)
			assert.Empty(t, violations(pkgs, tt.forbidden, tt.direct))
		})
	}
}

// TestDependencyFencesDetect checks that the fence would see a violation:
// the daemon does reach runc.
func TestDependencyFencesDetect(t *testing.T) {
	pkgs := listPackages(t, "./cmd/plugdbgd")
	require.Contains(t, pkgs, module+"/cmd/plugdbgd")
	assert.NotEmpty(t, violations(pkgs, []string{"github.com/opencontainers/runc"}, false), "transitive imports are seen")
	assert.NotEmpty(t, violations(pkgs, []string{module + "/daemon"}, true), "direct imports are seen")
	assert.Empty(t, violations(pkgs, []string{module + "/daemon2"}, false), "a prefix matches whole path elements only")
}

// clientForbidden is what the client, plugdbg, must not link (STYLE.md
// §17): the runtime, the daemon's wiring, the web UI, libcontainer and the
// registry library. It talks to plugdbgd for all of that.
var clientForbidden = []string{
	module + "/runtime",
	module + "/daemon",
	module + "/webui",
	"github.com/opencontainers",
	"github.com/google/go-containerregistry",
}

// clientAllowed are the exceptions to clientForbidden: pure-Go type
// packages that Docker's own API types (moby/api's registry and image
// types) and distribution/reference import, as docker/cli links them.
var clientAllowed = []string{
	"github.com/opencontainers/go-digest",
	"github.com/opencontainers/image-spec/specs-go",
}

// clientViolations lists the packages of graph that the client must not
// link: forbidden ones, cgo itself (runtime/cgo), and any package with cgo
// files outside the standard library. With cgo on, the standard library's
// net and os/user have cgo files (their resolvers) and pull in runtime/cgo;
// cgo is set to false when that is acceptable.
func clientViolations(graph []listedPackage, cgo bool) []string {
	var out []string
	for _, p := range graph {
		if matchesAny(p.ImportPath, clientForbidden) && !matchesAny(p.ImportPath, clientAllowed) {
			out = append(out, p.ImportPath)
		}
		if !cgo {
			continue
		}
		if p.ImportPath == "runtime/cgo" {
			out = append(out, p.ImportPath+" (cgo)")
		}
		if len(p.CgoFiles) > 0 && !p.Standard {
			out = append(out, p.ImportPath+" (cgo files: "+strings.Join(p.CgoFiles, ", ")+")")
		}
	}
	return out
}

// matchesAny reports whether path is one of prefixes or below one.
func matchesAny(path string, prefixes []string) bool {
	for _, f := range prefixes {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}

// TestClientDependencies: the client, cmd/plugdbg, is pure Go and links none
// of the runtime, as built for release (CGO_ENABLED=0) and in the default
// environment (cgo on: then only the standard library may use it, and the
// graph must still be free of the runtime).
func TestClientDependencies(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		cgo  bool // whether runtime/cgo and cgo files count
	}{
		{name: "CGO_ENABLED=0", env: []string{"CGO_ENABLED=0"}, cgo: true},
		{name: "default environment", env: nil, cgo: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			graph := listGraph(t, tt.env, "./cmd/plugdbg")
			require.NotEmpty(t, graph)
			assert.Empty(t, clientViolations(graph, tt.cgo))
			if !tt.cgo {
				for _, p := range graph {
					if len(p.CgoFiles) > 0 {
						assert.True(t, p.Standard, "%s has cgo files %v", p.ImportPath, p.CgoFiles)
					}
				}
			}
		})
	}
}

// TestClientDependenciesDetect: the client fence sees the daemon's
// violations: runtime packages, libcontainer, and cgo.
func TestClientDependenciesDetect(t *testing.T) {
	graph := listGraph(t, nil, "./cmd/plugdbgd")
	got := clientViolations(graph, true)
	assert.Contains(t, got, module+"/runtime/manager")
	assert.Contains(t, got, module+"/daemon")
	assert.Contains(t, got, module+"/webui")
	assert.Contains(t, got, "github.com/opencontainers/runc/libcontainer")
	assert.Contains(t, got, "github.com/google/go-containerregistry/pkg/v1/remote")
	assert.Contains(t, got, "runtime/cgo (cgo)")
	assert.Contains(t, got, "github.com/opencontainers/runc/libcontainer/nsenter (cgo files: nsenter.go)",
		"a third-party package with cgo files")
	assert.NotContains(t, got, "github.com/opencontainers/go-digest", "an allowed type package")
}
