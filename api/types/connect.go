package types

// The tunnel to a plugin's socket, POST /plugins/{name}/connect: the
// request's Upgrade token, and the headers of the 101 answer that say
// which plugin (its ID, "docker:"-prefixed for dockerd's) and which socket
// the tunnel reached, so that a remote client needs no inspect before it.
const (
	ConnectUpgrade      = "plugdbg-socket"
	ConnectPluginHeader = "X-Plugdbg-Plugin-Id"
	ConnectSocketHeader = "X-Plugdbg-Socket" // path-escaped
)
