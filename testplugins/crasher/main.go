// Command pdcrash is a volume plugin that fails on demand, so tests can watch
// the runtime handle a plugin that dies early, dies later, or dies by signal.
// Its behaviour comes from settable env vars (see config.json):
//
//	CRASH_AFTER         duration after which to crash; empty means never
//	CRASH_CODE          exit status of a crash (default 3)
//	EXIT_BEFORE_SOCKET  "1": write a few lines and crash before listening
//	CRASH_SIGNAL        SEGV, BUS or KILL: crash by that signal instead of
//	                    exiting with CRASH_CODE
//
// Only those three signals are offered because the plugin is PID 1 of its pid
// namespace, and the kernel drops every signal a namespace init sends itself
// (kill, tgkill, raise) while its disposition is SIG_DFL. The only deaths by
// signal open to it are the ones the kernel forces: a hardware fault with the
// handler reset to SIG_DFL (SEGV, BUS), or SIGKILL for exceeding RLIMIT_CPU.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdcrash.sock" // must equal config.json's interface.socket

// crash says how and when to fail.
type crash struct {
	after  time.Duration
	timed  bool   // CRASH_AFTER was set; an explicit "0s" crashes at once
	code   int    // exit status, unless signal is set
	signal string // "", "SEGV", "BUS" or "KILL"
}

func parseEnv() (crash, error) {
	c := crash{code: 3}
	if s := os.Getenv("CRASH_AFTER"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return c, fmt.Errorf("CRASH_AFTER=%q: want a duration such as 300ms", s)
		}
		c.after, c.timed = d, true
	}
	if s := os.Getenv("CRASH_CODE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 {
			return c, fmt.Errorf("CRASH_CODE=%q: want 0-255", s)
		}
		c.code = n
	}
	c.signal = strings.TrimPrefix(strings.ToUpper(os.Getenv("CRASH_SIGNAL")), "SIG")
	switch c.signal {
	case "", "SEGV", "BUS", "KILL":
	default:
		return c, fmt.Errorf("CRASH_SIGNAL=%q: want SEGV, BUS or KILL; a pid namespace init cannot die by any other signal it sends itself", c.signal)
	}
	return c, nil
}

func (c crash) String() string {
	if c.signal != "" {
		return "signal SIG" + c.signal
	}
	return fmt.Sprintf("exit code %d", c.code)
}

// die ends the process the configured way. It does not return.
func (c crash) die() {
	switch c.signal {
	case "SEGV":
		sigDefault(syscall.SIGSEGV)
		*nilInt = 1
	case "BUS":
		sigDefault(syscall.SIGBUS)
		// Touching a mapping beyond the end of its (empty) file is a bus error.
		fd, err := unix.MemfdCreate("pdcrash", 0)
		if err == nil {
			var b []byte
			if b, err = syscall.Mmap(fd, 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED); err == nil {
				sink = b[0]
			}
		}
		fmt.Fprintln(os.Stderr, "SIGBUS setup failed:", err)
	case "KILL":
		// The kernel's SIGKILL at the hard RLIMIT_CPU is forced, unlike a
		// self-sent one; burn a CPU-second on every core to reach it quickly.
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: 1, Max: 1}); err != nil {
			fmt.Fprintln(os.Stderr, "SIGKILL setup failed:", err)
			break
		}
		for i := 1; i < runtime.NumCPU(); i++ {
			go spin()
		}
		spin()
	}
	os.Exit(c.code)
}

// Package variables, so the compiler cannot optimise the faulting accesses away.
var (
	nilInt *int
	sink   byte
)

func spin() {
	for {
	}
}

// sigDefault resets sig to SIG_DFL behind the Go runtime's back, so that a
// fault kills the process instead of becoming a Go panic (which would end in
// exit status 2). signal.Reset cannot do this: it restores the runtime's own
// handler.
func sigDefault(sig syscall.Signal) {
	var sa [4]uint64 // struct sigaction: all zero is SIG_DFL, no flags, no mask
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
}

func main() {
	ctx := plugsock.TermContext()
	c, err := parseEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fatal:", err)
		os.Exit(2)
	}
	fmt.Println("starting")
	if os.Getenv("EXIT_BEFORE_SOCKET") == "1" {
		fmt.Println("about to fail")
		fmt.Fprintln(os.Stderr, "fatal: config missing")
		c.die()
	}

	path := plugsock.Path(socket)
	l, err := plugsock.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("pdcrash listening on %s\n", path)
	if c.timed {
		fmt.Printf("crashing in %v with %v\n", c.after, c)
		time.AfterFunc(c.after, func() {
			fmt.Fprintln(os.Stderr, "crashing now")
			c.die() // leaves the socket file behind, as a real crash does
		})
	}

	h := plugsock.VolumeStub()
	if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("pdcrash: SIGTERM received, exiting")
}
