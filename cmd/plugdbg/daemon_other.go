//go:build !unix

package main

import "fmt"

// execDaemon fails: plugdbgd runs on Linux only, and a platform without
// exec(2) could not hand it the terminal and the exit status anyway.
func execDaemon(path string, _ []string) error {
	return fmt.Errorf("the daemon is %s now, and it runs on Linux only", path)
}
