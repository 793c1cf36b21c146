package main

import (
	"errors"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packageDoc returns the name and package comment of the Go package in
// dir, built for this platform, ignoring tests. ok is false when dir holds
// no such package (no Go files, or only tests).
func packageDoc(dir string) (name, doc string, ok bool, err error) {
	pkg, err := build.ImportDir(dir, 0)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	files := append(append([]string{}, pkg.GoFiles...), pkg.CgoFiles...)
	if len(files) == 0 {
		return "", "", false, nil // tests only
	}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return "", "", false, err
		}
		if af.Doc != nil {
			doc += af.Doc.Text()
		}
	}
	return pkg.Name, doc, true, nil
}

// docProblem says what is wrong with a package comment, or "".
func docProblem(name, doc string) string {
	switch {
	case strings.TrimSpace(doc) == "":
		return "has no package comment"
	case name == "main" && !strings.HasPrefix(doc, "Command "):
		return `package comment of a command should start with "Command <name> "`
	case name != "main" && !strings.HasPrefix(doc, "Package "+name+" "):
		return `package comment should start with "Package ` + name + ` "`
	}
	return ""
}

// TestPackageDocs checks that every package in the repository has a
// package comment (STYLE.md §14).
func TestPackageDocs(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		base := d.Name()
		if path != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") ||
			base == "testdata" || base == "vendor" || base == "node_modules" || path == "build") {
			return filepath.SkipDir
		}
		name, doc, ok, err := packageDoc(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if !ok {
			return nil
		}
		checked++
		if p := docProblem(name, doc); p != "" {
			t.Errorf("package %s in ./%s %s", name, path, p)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 10, "the walk found too few packages; is it running from the repository root?")
}

// TestPackageDocsDetects checks the checker itself on made-up packages.
func TestPackageDocsDetects(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantOK  bool
		wantErr string // docProblem's answer, "" when fine
	}{
		{
			name:   "documented",
			files:  map[string]string{"a.go": "// Package foo does things.\npackage foo\n", "b.go": "package foo\n"},
			wantOK: true,
		},
		{
			name:    "undocumented",
			files:   map[string]string{"a.go": "package foo\n", "b.go": "package foo\n"},
			wantOK:  true,
			wantErr: "has no package comment",
		},
		{
			name:    "comment not attached to the clause",
			files:   map[string]string{"a.go": "// Package foo does things.\n\npackage foo\n"},
			wantOK:  true,
			wantErr: "has no package comment",
		},
		{
			name:    "only the test file is documented",
			files:   map[string]string{"a.go": "package foo\n", "a_test.go": "// Package foo does things.\npackage foo\n"},
			wantOK:  true,
			wantErr: "has no package comment",
		},
		{
			name:    "wrong name",
			files:   map[string]string{"a.go": "// Package bar does things.\npackage foo\n"},
			wantOK:  true,
			wantErr: `package comment should start with "Package foo "`,
		},
		{
			name:   "command",
			files:  map[string]string{"main.go": "// Command foo does things.\npackage main\n\nfunc main() {}\n"},
			wantOK: true,
		},
		{
			name:   "tests only",
			files:  map[string]string{"a_test.go": "package foo\n"},
			wantOK: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, src := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(src), 0o644))
			}
			name, doc, ok, err := packageDoc(dir)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
			if ok {
				assert.Equal(t, tt.wantErr, docProblem(name, doc))
			}
		})
	}
}
