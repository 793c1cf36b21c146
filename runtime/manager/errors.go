package manager

import "errors"

// ErrStopping is an operation refused because a stop of the plugin has
// begun. The manager's errors carry the kinds of package errkind (not
// found, conflict, invalid), which the API maps to HTTP statuses.
var ErrStopping = errors.New("plugin is stopping")
