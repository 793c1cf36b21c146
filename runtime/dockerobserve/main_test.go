package dockerobserve

import (
	"os"
	"testing"
)

// TestMain makes the test binary a helper when it is started as one, as
// the daemon's binary is (Argv1 before anything else).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Argv1 {
		os.Exit(Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}
