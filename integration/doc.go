// Package integration holds plugdbg's end-to-end tests. They build the
// plugdbg and plugdbgd binaries and the test plugins, run real daemons (as separate
// processes, each on its own data and exec roots) and drive them through the
// CLI, the typed client, the docker CLI and the plugins' own sockets.
//
// The tests need root: they create containers, mounts and cgroups. As any
// other user, or with -short, the whole package is skipped.
package integration
