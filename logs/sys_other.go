//go:build !linux && !darwin

package logs

import (
	"errors"
	"os"
)

// The log files are written and read where the daemon runs (Linux); the
// portable client only formats and parses log lines and options. These
// stand-ins keep the package compiling for it.

func lockShared(*os.File) (unlock func(), ok bool) { return nil, false }

func tryLockExclusive(*os.File) (unlock func(), busy bool) { return nil, false }

func freeBytes(*os.File) (int64, error) {
	return 0, errors.New("free space: not supported on this platform")
}
