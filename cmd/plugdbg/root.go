// plugdbg's command line: each file parses one verb's flags and calls one
// package function.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	host string
}

// ExitCoder is an error that carries the process exit status.
type ExitCoder interface {
	error
	ExitCode() int
}

// Execute runs the CLI and returns the process exit status.
func Execute(ctx context.Context) int {
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// An error without a message carries only an exit status (exec's).
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "Error:", msg)
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

func newRootCmd() *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:           "plugdbg",
		Short:         "Run and debug Docker-style managed plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	host := os.Getenv("PLUGDBG_HOST")
	if host == "" {
		host = types.DefaultHost
	}
	root.PersistentFlags().StringVarP(&opts.host, "host", "H", host, "daemon socket to connect to (env PLUGDBG_HOST)")
	root.AddCommand(
		newDaemonCmd(),
		newCreateCmd(opts),
		newListCmd(opts),
		newInspectCmd(opts),
		newEnableCmd(opts),
		newDisableCmd(opts),
		newSetCmd(opts),
		newRemoveCmd(opts),
		newVersionCmd(opts),
		newLogsCmd(opts),
		newEventsCmd(opts),
		newInstallCmd(opts),
		newPushCmd(opts),
		newUpgradeCmd(opts),
		newLoginCmd(opts),
		newExecCmd(opts),
		newTopCmd(opts),
		newStatsCmd(opts),
		newProbeCmd(opts),
		newCheckCmd(opts),
		newTraceCmd(opts),
		newUsageCmd(opts),
		newPublishCmd(opts),
		newBundleCmd(opts),
		newDialStdioCmd(opts),
		newUICmd(opts),
	)
	return root
}
