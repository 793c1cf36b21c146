// Package version holds plugdbg's version and the Engine API version its
// daemon speaks.
package version

// Version is plugdbg's version, set at build time with -ldflags -X.
var Version = "0.1.0-dev"

// APIVersion is the Docker Engine API version the daemon's plugin subset
// answers as; MinAPIVersion the oldest it accepts.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)
