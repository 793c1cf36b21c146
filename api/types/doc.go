// Package types is the contract of plugdbg's API: every value that crosses
// the daemon's socket beside Docker's own types (plugin inspect and state,
// log lines and their options, top, stats, events, exec frames' JSON,
// usage, trace records, push results). The client, the daemon, the web UI,
// bundles and the dockerd adapter share these definitions; nothing here
// depends on the runtime, so the portable client links it alone.
package types
