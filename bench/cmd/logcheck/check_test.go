package main

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFloodLine(t *testing.T) {
	tests := []struct {
		line   string
		stream string
		seq    uint64
		t      int64
		ok     bool
	}{
		{"stdout seq=1 t=1700000000000000001 pad=xxxx", "stdout", 1, 1700000000000000001, true},
		// plugdbg logs -t
		{"2026-11-27T10:00:00.000000001Z stderr seq=42 t=5 pad=", "stderr", 42, 5, true},
		// plugdbg logs --all -t
		{"flood:latest | 2026-11-27T10:00:00.000000001Z stdout seq=7 t=9 pad=x", "stdout", 7, 9, true},
		{"flood:latest |stdout seq=7 t=9 pad=x", "stdout", 7, 9, true},
		// daemon log, plugdbg's or dockerd's
		{`time="2026-11-27T10:00:00.000000001Z" level=info msg="stdout seq=3 t=8 pad=xx" plugin=abc`, "stdout", 3, 8, true},
		{"stdout seq=0 t=1 pad=", "", 0, 0, false},
		{"stdout seq=1 pad=", "", 0, 0, false},
		{"seq=1 t=2 pad=", "", 0, 0, false},
		{"stdout seq=x t=2", "", 0, 0, false},
		{"pad=xxstdout seq=3 t=2 pad=", "", 0, 0, false},
		{"pdflood listening on /run/docker/plugins/pdflood.sock: rate=1000/s", "", 0, 0, false},
	}
	for _, tt := range tests {
		stream, seq, ts, ok := floodLine([]byte(tt.line))
		if stream != tt.stream || seq != tt.seq || ts != tt.t || ok != tt.ok {
			t.Errorf("floodLine(%q) = %q %d %d %v, want %q %d %d %v", tt.line, stream, seq, ts, ok, tt.stream, tt.seq, tt.t, tt.ok)
		}
	}
}

func TestMarkers(t *testing.T) {
	n, ok := skippedCount([]byte("… 1234 lines skipped: no longer in flood:latest's history (rotated away, or never stored on a full disk) …"))
	if !ok || n != 1234 {
		t.Errorf("skipped = %d %v", n, ok)
	}
	if n, ok := skippedCount([]byte("flood | … 1,500 lines skipped …")); !ok || n != 1500 {
		t.Errorf("skipped with commas = %d %v", n, ok)
	}
	if _, ok := skippedCount([]byte("stdout seq=1 t=2 pad=")); ok {
		t.Error("a flood line read as a marker")
	}
	counts, elapsed, ok := doneCounts([]byte(`time="x" level=error msg="flood done lines=30 elapsed=10.0001s stdout=20 stderr=10" plugin=abc`))
	if !ok || len(counts) != 2 || counts["stdout"] != 20 || counts["stderr"] != 10 || elapsed != "10.000100s" {
		t.Errorf("done = %v %q %v", counts, elapsed, ok)
	}
}

func TestStamp(t *testing.T) {
	want := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	for _, line := range []string{
		"2026-11-27T10:00:00.123456789Z stdout seq=1 t=2 pad=",
		"flood:latest | 2026-11-27T10:00:00.123456789Z stdout seq=1 t=2 pad=",
		`time="2026-11-27T10:00:00.123456789Z" level=info msg="stdout seq=1 t=2 pad=" plugin=abc`,
	} {
		if got, ok := stampOf([]byte(line)); !ok || !got.Equal(want) {
			t.Errorf("stampOf(%q) = %v %v", line, got, ok)
		}
	}
	for _, line := range []string{"stdout seq=1 t=2 pad=", "flood:latest | stdout seq=1 t=2 pad="} {
		if _, ok := stampOf([]byte(line)); ok {
			t.Errorf("stampOf(%q) found a time", line)
		}
	}
}

// run feeds text to a fresh checker, line by line.
func run(text string) *checker {
	c := newChecker()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		c.add(sc.Bytes(), time.Time{})
	}
	return c
}

func field(t *testing.T, report, key string) string {
	t.Helper()
	for _, f := range strings.Fields(report) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	t.Fatalf("no %s in %q", key, report)
	return ""
}

func TestGapsAndDups(t *testing.T) {
	var b strings.Builder
	b.WriteString("pdflood listening on /run/docker/plugins/pdflood.sock\n")
	// stdout: 3..100 without 50 and 51, 60 twice; 1 and 2 rotated out.
	for i := 3; i <= 100; i++ {
		if i == 50 || i == 51 {
			continue
		}
		b.WriteString("stdout seq=" + itoa(i) + " t=1 pad=\n")
		if i == 60 {
			b.WriteString("stdout seq=60 t=1 pad=\n")
		}
	}
	// stderr: 1..10, then a follower's marker.
	for i := 1; i <= 10; i++ {
		b.WriteString("stderr seq=" + itoa(i) + " t=1 pad=\n")
	}
	b.WriteString("… 7 lines skipped: …\n")
	r := run(b.String()).report()
	for k, want := range map[string]string{
		"lines": "107", "distinct": "106", "written": "-1", "elapsed": "-", "gaps": "2", "head": "2", "tail": "0",
		"missing": "4", "dups": "1", "skipped": "7", "markers": "1", "other": "2", "recv_p50": "-", "recv_max": "-",
	} {
		if got := field(t, r, k); got != want {
			t.Errorf("%s = %s, want %s (%s)", k, got, want, r)
		}
	}

	// The done line says 105 were written to stdout and 12 to stderr:
	// 5 + 2 more are missing at the tails.
	c := run(b.String() + "flood done lines=117 elapsed=1s stdout=105 stderr=12\n")
	r = c.report()
	for k, want := range map[string]string{"written": "117", "elapsed": "1.000000s", "tail": "7", "missing": "11", "other": "3"} {
		if got := field(t, r, k); got != want {
			t.Errorf("%s = %s, want %s (%s)", k, got, want, r)
		}
	}
	if c.complete() {
		t.Error("complete with lines missing")
	}
	if c := run("stdout seq=1 t=1 pad=\nstdout seq=2 t=1 pad=\nflood done lines=2 elapsed=1s stdout=2\n"); !c.complete() {
		t.Error("not complete with every line read")
	}
	if c := run("stdout seq=1 t=1 pad=\n"); c.complete() {
		t.Error("complete without a done line")
	}
}

func TestLatency(t *testing.T) {
	c := newChecker()
	base := time.Unix(1700000000, 0)
	// 100 lines received 1..100 ms after they were written.
	for i := 1; i <= 100; i++ {
		line := "stdout seq=" + itoa(i) + " t=" + itoa64(base.UnixNano()) + " pad="
		c.add([]byte(line), base.Add(time.Duration(i)*time.Millisecond))
	}
	c.add([]byte("stdout seq=101 t="+itoa64(base.UnixNano())+" pad="), base.Add(-time.Millisecond))
	r := c.report()
	// 50 and 99 ms, give or take the buckets' 1/64 and the one line at 0.
	if got := num(t, r, "recv_p50"); got < 48.5 || got > 51 {
		t.Errorf("p50 = %v (%s)", got, r)
	}
	if got := num(t, r, "recv_p99"); got < 97 || got > 100 {
		t.Errorf("p99 = %v (%s)", got, r)
	}
	if got := field(t, r, "recv_max"); got != "100.000" {
		t.Errorf("max = %s", got)
	}
	if got := field(t, r, "negative"); got != "1" {
		t.Errorf("negative = %s", got)
	}
	if got := field(t, r, "stamp_p50"); got != "-" {
		t.Errorf("stamp_p50 = %s", got)
	}
}

func itoa(i int) string     { return strconv.Itoa(i) }
func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

// num reads a millisecond field of the report.
func num(t *testing.T, report, key string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(field(t, report, key), 64)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return f
}

func TestHistogram(t *testing.T) {
	// Every bucket's middle falls back in the same bucket, and buckets
	// stay ordered.
	prev := int64(-1)
	for b := 0; b < 2000; b++ {
		v := valueOf(b)
		if bucketOf(v) != b || v <= prev {
			t.Fatalf("bucket %d: value %d, back to bucket %d, previous value %d", b, v, bucketOf(v), prev)
		}
		prev = v
	}
	// Relative error stays under 1/64.
	for _, us := range []int64{0, 1, 127, 128, 129, 1000, 49999, 1 << 20, 1<<40 + 12345} {
		v := valueOf(bucketOf(us))
		if d := v - us; d < 0 && -d > us/64+1 || d > us/64+1 {
			t.Errorf("%d µs lands at %d", us, v)
		}
	}
	var h hist
	if h.quantile(0.5) != -1 {
		t.Error("empty histogram has a median")
	}
}
