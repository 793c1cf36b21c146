package execproto

// Config is what an exec runs: the JSON body of POST /plugins/{name}/exec.
type Config struct {
	Cmd []string `json:"Cmd"`
	// Env is KEY=VALUE pairs added to (and overriding) the plugin's own
	// environment.
	Env []string `json:"Env,omitempty"`
	// User is USER[:GROUP], names or numbers; names are resolved in the
	// plugin's /etc/passwd and /etc/group. Empty: the plugin's user.
	User string `json:"User,omitempty"`
	// WorkingDir is the process's directory; empty: the plugin's.
	WorkingDir  string `json:"WorkingDir,omitempty"`
	Tty         bool   `json:"Tty,omitempty"`
	AttachStdin bool   `json:"AttachStdin,omitempty"`
	// Toolbox runs Cmd[0] from the daemon's toolbox even if the plugin's
	// rootfs has it. Without it the toolbox is used only when the rootfs
	// lacks Cmd[0].
	Toolbox bool `json:"Toolbox,omitempty"`
	// Height and Width are the initial terminal size with Tty.
	Height uint16 `json:"Height,omitempty"`
	Width  uint16 `json:"Width,omitempty"`
}

// StartError is a process that could not be started: the command does not
// exist (ExitCode 127) or cannot be run (126). A session reports it in its
// Exit frame, as a shell would.
type StartError struct {
	ExitCode int
	Msg      string
}

func (e *StartError) Error() string { return e.Msg }
