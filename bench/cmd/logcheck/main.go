// Command logcheck reads the output of the flood test plugin
// (testplugins/flood) on stdin, as `plugdbg logs` prints it (with or without
// -t and --all) or as a daemon log holds it (plugdbg's or dockerd's logrus
// text), and prints one line of key=value pairs: how many numbered lines it
// saw, the sequence numbers missing or repeated on each stream, the "N lines
// skipped" markers of a follower that fell behind, and latency percentiles.
// bench/logs.sh uses it.
//
//	plugdbg logs -f -t flood | logcheck -latency -stop-at-done
//	logcheck -match plugin=<id> < daemon.log
//
// Latency is measured from the t= a flood line carries (the plugin's clock
// when it wrote the line): recv_* to the moment logcheck read the line
// (-latency; meaningful only for a live follower), stamp_* to the timestamp
// the line itself carries (-t, or the daemon log's time=, both the moment
// the monitor read the line from the plugin).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

func main() {
	match := flag.String("match", "", "only read lines that contain this string, e.g. plugin=<id>")
	latency := flag.Bool("latency", false, "measure receive latency: the time each line is read minus its t=")
	stopAtDone := flag.Bool("stop-at-done", false, `stop once the "flood done" line and every line it counts were read`)
	idle := flag.Duration("idle", 3*time.Second, "with -stop-at-done: also stop when no line came for this long after the done line")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: logcheck [flags] < log")
		os.Exit(2)
	}

	c := newChecker()
	var mu sync.Mutex  // guards c and last
	var last time.Time // when the latest line came, once the done line did
	report := func() {
		mu.Lock() // held until exit: no line is counted after the report
		fmt.Println(c.report())
		os.Exit(0)
	}
	err := scan(os.Stdin, *match, *latency, func(line []byte, now time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		c.add(line, now)
		if !*stopAtDone || !c.done {
			return true
		}
		if last.IsZero() {
			go watchIdle(&mu, &last, *idle, report)
		}
		last = time.Now()
		return !c.complete()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "logcheck:", err)
	}
	report()
}

// watchIdle calls report once *last is more than idle ago.
func watchIdle(mu *sync.Mutex, last *time.Time, idle time.Duration, report func()) {
	for range time.Tick(100 * time.Millisecond) {
		mu.Lock()
		quiet := time.Since(*last) > idle
		mu.Unlock()
		if quiet {
			report()
		}
	}
}

// scan hands each line of r that contains match to step, with the time it
// was read if latency is set, until step returns false or r ends.
func scan(r io.Reader, match string, latency bool, step func(line []byte, now time.Time) bool) error {
	m := []byte(match)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 32<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if match != "" && !bytes.Contains(line, m) {
			continue
		}
		var now time.Time
		if latency {
			now = time.Now()
		}
		if !step(line, now) {
			return nil
		}
	}
	return sc.Err()
}
