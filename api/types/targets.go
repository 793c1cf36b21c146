package types

// DefaultHost is where plugdbgd listens and the plugdbg client connects
// when neither is told otherwise (-H, PLUGDBG_HOST).
const DefaultHost = "unix:///run/plugdbg/plugdbg.sock"

// DockerPrefix marks a target as one of dockerd's plugins, "docker:NAME":
// the client adds it for --docker, the daemon routes on it.
const DockerPrefix = "docker:"
