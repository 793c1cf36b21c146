package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseEnv(t *testing.T) {
	c, err := parseEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.rate != 1000 || c.duration != 0 || c.lineBytes != 100 || c.delay != 0 || fmt.Sprint(c.streams) != "[stdout]" {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseEnv(env(map[string]string{"RATE": "0", "DURATION": "10s", "LINE_BYTES": "70000", "STREAMS": "both", "START_DELAY": "500ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.rate != 0 || c.duration != 10*time.Second || c.lineBytes != 70000 || c.delay != 500*time.Millisecond || fmt.Sprint(c.streams) != "[stdout stderr]" {
		t.Errorf("set: %+v", c)
	}
	for _, bad := range []map[string]string{
		{"RATE": "-1"}, {"RATE": "fast"}, {"DURATION": "10"}, {"DURATION": "-1s"},
		{"LINE_BYTES": "-1"}, {"LINE_BYTES": "99999999"}, {"STREAMS": "stdin"}, {"START_DELAY": "x"},
	} {
		if _, err := parseEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestAppendLine(t *testing.T) {
	pad := strings.Repeat("x", 200)
	got := string(appendLine(nil, "stdout", 42, 1700000000123456789, 100, pad))
	want := "stdout seq=42 t=1700000000123456789 pad=" + strings.Repeat("x", 60) + "\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Too short for the fixed part: the line is not cut.
	if got := string(appendLine(nil, "stderr", 7, 5, 10, pad)); got != "stderr seq=7 t=5 pad=\n" {
		t.Errorf("short: %q", got)
	}
}

// check reads the lines w wrote and returns how many there were, failing
// on a gap, a bad length or a non-increasing timestamp.
func check(t *testing.T, out *bytes.Buffer, stream string, lineBytes int) uint64 {
	t.Helper()
	var n uint64
	var last int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var seq uint64
		var ts int64
		if _, err := fmt.Sscanf(sc.Text(), stream+" seq=%d t=%d", &seq, &ts); err != nil {
			t.Fatalf("line %d: %q: %v", n+1, sc.Text(), err)
		}
		n++
		if seq != n || ts < last || len(sc.Text()) != lineBytes {
			t.Fatalf("line %d: seq %d, t %d after %d, %d bytes", n, seq, ts, last, len(sc.Text()))
		}
		last = ts
	}
	return n
}

func TestRunPaced(t *testing.T) {
	var out bytes.Buffer
	cfg := config{rate: 20000, duration: 100 * time.Millisecond, lineBytes: 80}
	w := &writer{cfg: cfg, stream: "stdout", w: &out, pad: strings.Repeat("x", 80)}
	start := time.Now()
	if err := w.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if n := check(t, &out, "stdout", 80); n != 2000 || w.lines.Load() != 2000 {
		t.Errorf("wrote %d lines (counted %d), want exactly 2000", n, w.lines.Load())
	}
	// Paced: never ahead of its rate, whatever the load. The upper bound is
	// for a writer far behind it (10 s: a hundredth of the rate), not a busy
	// machine.
	if took < 95*time.Millisecond || took > 10*time.Second {
		t.Errorf("took %v for 100ms worth of lines", took)
	}
	if s := summary([]*writer{w}); !strings.HasPrefix(s, "flood done lines=2000 elapsed=") || !strings.HasSuffix(s, " stdout=2000") {
		t.Errorf("summary %q", s)
	}
}

func TestRunUnpacedStops(t *testing.T) {
	var out bytes.Buffer
	cfg := config{rate: 0, duration: 20 * time.Millisecond, lineBytes: 100}
	w := &writer{cfg: cfg, stream: "stderr", w: &out, pad: strings.Repeat("x", 100)}
	if err := w.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := check(t, &out, "stderr", 100); n == 0 || n != w.lines.Load() {
		t.Errorf("wrote %d lines, counted %d", n, w.lines.Load())
	}

	// Unbounded: cancelling stops it.
	out.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	w = &writer{cfg: config{rate: 1000, lineBytes: 100}, stream: "stdout", w: &out, pad: strings.Repeat("x", 100)}
	time.AfterFunc(30*time.Millisecond, cancel)
	if err := w.run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := check(t, &out, "stdout", 100); n == 0 || n > 200 {
		t.Errorf("wrote %d lines in ~30ms at 1000/s", n)
	}
}
