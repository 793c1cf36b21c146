package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExecRelativeWorkdir: a relative -w is refused before the daemon is
// asked (the socket here does not exist, so asking would say so instead).
func TestExecRelativeWorkdir(t *testing.T) {
	for _, w := range []string{"tmp", "./tmp", "."} {
		t.Run(w, func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs([]string{"-H", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "exec", "-w", w, "p", "pwd"})
			root.SilenceErrors = true
			err := root.Execute()
			assert.EqualError(t, err, `invalid --workdir "`+w+`": must be an absolute path in the container`)
		})
	}
	t.Run("absolute", func(t *testing.T) {
		root := newRootCmd()
		root.SetArgs([]string{"-H", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "exec", "-w", "/tmp", "p", "pwd"})
		root.SilenceErrors = true
		assert.ErrorContains(t, root.Execute(), "cannot connect to the plugdbg daemon", "on to the daemon")
	})
}
