//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execDaemon replaces this process with plugdbgd, so that signals reach the
// daemon and its exit status is the command's.
func execDaemon(path string, args []string) error {
	argv := append([]string{path}, args...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	return nil // not reached: Exec returns only on failure
}
