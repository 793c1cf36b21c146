package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

// daemonBinary is the daemon's own executable, which `plugdbg daemon` ran
// in-process before the client and the daemon became two binaries.
const daemonBinary = "plugdbgd"

// newDaemonCmd keeps `plugdbg daemon [flags]` working for the hands and
// scripts that type it: it hands every argument to plugdbgd.
func newDaemonCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon [plugdbgd flags]",
		Short: "Run plugdbgd, the daemon (it is its own binary now)",
		Long: `The daemon is its own binary, plugdbgd. plugdbg daemon runs it with the same
arguments: the plugdbgd beside this plugdbg, or else the one on PATH.
See plugdbgd --help for its flags.`,
		// Every flag is plugdbgd's, -H included, wherever it stands.
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				self = ""
			}
			path, err := findDaemon(self, exec.LookPath)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "plugdbg daemon: the daemon is plugdbgd now; running %s\n", path)
			return execDaemon(path, args)
		},
	}
}

// findDaemon returns the plugdbgd installed beside self (the plugdbg
// executable; "" if unknown), or else the one lookPath finds on PATH.
func findDaemon(self string, lookPath func(string) (string, error)) (string, error) {
	var beside string
	if self != "" {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		beside = filepath.Join(filepath.Dir(self), daemonBinary)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	if path, err := lookPath(daemonBinary); err == nil {
		return path, nil
	}
	where := "on PATH"
	if beside != "" {
		where = "at " + beside + " nor on PATH"
	}
	return "", errors.New("the daemon is its own binary now, plugdbgd, and there is none " + where +
		": install it (make install puts plugdbg and plugdbgd in $(PREFIX)/bin) and run `sudo plugdbgd [flags]`")
}
