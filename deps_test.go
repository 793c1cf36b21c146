package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
}

// listPackages runs `go list -deps -json` on patterns and returns the
// packages the patterns name (not their dependencies), by import path.
func listPackages(t *testing.T, patterns ...string) map[string]listedPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-json"}, patterns...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	pkgs := map[string]listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if !p.DepOnly {
			pkgs[p.ImportPath] = p
		}
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
// cmd does reach runc, through the daemon.
func TestDependencyFencesDetect(t *testing.T) {
	pkgs := listPackages(t, "./cmd/plugdbg")
	require.Contains(t, pkgs, module+"/cmd/plugdbg")
	assert.NotEmpty(t, violations(pkgs, []string{"github.com/opencontainers/runc"}, false), "transitive imports are seen")
	assert.NotEmpty(t, violations(pkgs, []string{module + "/client"}, true), "direct imports are seen")
	assert.Empty(t, violations(pkgs, []string{module + "/client2"}, false), "a prefix matches whole path elements only")
}
