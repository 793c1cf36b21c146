//go:build race

package integration

// raceEnabled reports whether the tests run with -race; the daemon is then
// built with -race too, so that its data races fail the tests.
const raceEnabled = true
