package main

import (
	"errors"

	"github.com/plugdbg/plugdbg/probe"
)

// Exit statuses of `plugdbg probe`, told apart by the error types probe.Run
// returns. Every other failure, usage errors and `plugdbg check`'s failed
// checks included, exits 1.
const (
	exitProbeTransport = 2 // no complete HTTP answer
	exitProbeHTTP      = 3 // an answer other than 200
	exitProbePluginErr = 4 // a 200 with a non-empty Err (Error for IPAM)
	exitProbeInvalid   = 5 // an answer that is not JSON, or breaks the schema under --strict
)

// probeExitCode returns the exit status of `plugdbg probe` for err.
func probeExitCode(err error) int {
	var (
		te *probe.TransportError
		se *probe.StatusError
		pe *probe.PluginError
		ie *probe.InvalidError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &te):
		return exitProbeTransport
	case errors.As(err, &se):
		return exitProbeHTTP
	case errors.As(err, &pe):
		return exitProbePluginErr
	case errors.As(err, &ie):
		return exitProbeInvalid
	}
	return 1
}

// codedError gives err the exit status code (an ExitCoder), keeping its
// message and its chain for errors.As.
type codedError struct {
	err  error
	code int
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) ExitCode() int { return e.code }

// withProbeExitCode attaches `plugdbg probe`'s exit status to err; nil and
// errors that exit 1 are returned as they are.
func withProbeExitCode(err error) error {
	if code := probeExitCode(err); code > 1 {
		return &codedError{err: err, code: code}
	}
	return err
}
