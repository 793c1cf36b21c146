package execproto

// StartError is a process that could not be started: the command does not
// exist (ExitCode 127) or cannot be run (126). A session reports it in its
// Exit frame, as a shell would.
type StartError struct {
	ExitCode int
	Msg      string
}

func (e *StartError) Error() string { return e.Msg }
