package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/probe/conformance"
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

// quietError carries an exit status whose message has been printed
// already: run prints nothing for an empty message. It keeps err in its
// chain for errors.As.
type quietError struct {
	err  error
	code int
}

func (e *quietError) Error() string { return "" }
func (e *quietError) Unwrap() error { return e.err }
func (e *quietError) ExitCode() int { return e.code }

// checkExit turns the failure of `plugdbg check`'s suite into exit status 1
// with its summary (TARGET: N failed, M with warnings) printed on stderr as
// it is: the run worked, it is its verdict, not an "Error:". Other errors
// are returned as they are.
func checkExit(err error, stderr io.Writer) error {
	var failed *conformance.Failed
	if !errors.As(err, &failed) {
		return err
	}
	fmt.Fprintln(stderr, failed.Error())
	return &quietError{err: err, code: 1}
}

// withUsage adds the command's usage line to a "no plugin given" error, as
// docker does for a missing argument.
func withUsage(cmd *cobra.Command, err error) error {
	if !errors.Is(err, probe.ErrNoPlugin) {
		return err
	}
	return fmt.Errorf("%w\n\nUsage:  %s\nSee '%s --help'", err, cmd.UseLine(), cmd.CommandPath())
}
