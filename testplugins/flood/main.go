// Command pdflood is a volume plugin that floods its stdout and/or stderr with
// numbered, timestamped lines at a set rate, for the log benchmark
// (bench/logs.sh) and for tests of the log router. Its behaviour comes from
// settable env vars (see config.json):
//
//	RATE         lines per second on each stream (default 1000); 0 writes as
//	             fast as the reader drains
//	DURATION     how long to write, e.g. 10s (default 0: until SIGTERM); with
//	             RATE > 0 exactly RATE×DURATION lines go to each stream
//	LINE_BYTES   length of each line without its newline (default 100)
//	STREAMS      stdout, stderr or both (default stdout)
//	START_DELAY  wait this long after listening before the first line, so a
//	             follower can attach (default 0)
//
// Each line is
//
//	<stream> seq=<n> t=<unix nanoseconds at write> pad=xxx…
//
// with seq counting from 1 on each stream, so a reader can find gaps and
// duplicates and measure latency. Lines are written in batches, one write
// per batch: every millisecond the lines due by then (RATE/1000 of them when
// the reader keeps up, more to catch up when it blocked the plugin). When
// every stream is done the plugin writes
//
//	flood done lines=<total> elapsed=<d> stdout=<n> stderr=<n>
//
// on stderr, and keeps serving its socket (a plugin that exits would be
// restarted). SIGTERM stops it with status 0, after the same summary.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdflood.sock" // must equal config.json's interface.socket

// maxLineBytes bounds LINE_BYTES; lines over 64 KiB are allowed on purpose,
// to exercise the router's splitting of long lines.
const maxLineBytes = 16 << 20

// config is the flood's settings, from the environment.
type config struct {
	rate      int           // lines per second per stream; 0: unpaced
	duration  time.Duration // 0: until SIGTERM
	lineBytes int           // line length without the newline
	streams   []string      // "stdout", "stderr" or both, in that order
	delay     time.Duration // before the first line
}

func parseEnv(getenv func(string) string) (config, error) {
	c := config{rate: 1000, lineBytes: 100, streams: []string{"stdout"}}
	var err error
	if s := getenv("RATE"); s != "" {
		if c.rate, err = strconv.Atoi(s); err != nil || c.rate < 0 {
			return c, fmt.Errorf("RATE=%q: want lines per second, 0 or more", s)
		}
	}
	if s := getenv("LINE_BYTES"); s != "" {
		if c.lineBytes, err = strconv.Atoi(s); err != nil || c.lineBytes < 0 || c.lineBytes > maxLineBytes {
			return c, fmt.Errorf("LINE_BYTES=%q: want 0 to %d", s, maxLineBytes)
		}
	}
	if c.duration, err = parseDuration("DURATION", getenv("DURATION")); err != nil {
		return c, err
	}
	if c.delay, err = parseDuration("START_DELAY", getenv("START_DELAY")); err != nil {
		return c, err
	}
	switch s := getenv("STREAMS"); s {
	case "", "stdout":
	case "stderr":
		c.streams = []string{"stderr"}
	case "both":
		c.streams = []string{"stdout", "stderr"}
	default:
		return c, fmt.Errorf("STREAMS=%q: want stdout, stderr or both", s)
	}
	return c, nil
}

func parseDuration(name, s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 10s", name, s)
	}
	return d, nil
}

// appendLine appends one line and its newline to b. pad holds at least
// lineBytes bytes of padding; the line is exactly lineBytes long unless its
// fixed part is longer.
func appendLine(b []byte, stream string, seq uint64, t int64, lineBytes int, pad string) []byte {
	start := len(b)
	b = append(b, stream...)
	b = append(b, " seq="...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, " t="...)
	b = strconv.AppendInt(b, t, 10)
	b = append(b, " pad="...)
	if n := lineBytes - (len(b) - start); n > 0 {
		b = append(b, pad[:n]...)
	}
	return append(b, '\n')
}

// writer floods one stream.
type writer struct {
	cfg     config
	stream  string
	w       interface{ Write([]byte) (int, error) }
	pad     string
	lines   atomic.Uint64 // written so far
	elapsed atomic.Int64  // from the first line to the end of the last write, ns
}

// batchLines is how many lines one write carries at most: enough to make
// the syscalls cheap, few enough that lines are not held back long.
func (f *writer) batchLines() uint64 {
	n := uint64(256<<10) / uint64(f.cfg.lineBytes+1)
	return max(1, min(n, 4096))
}

// write writes lines from+1 … to in batches; it returns the first error.
func (f *writer) write(buf []byte, from, to uint64) ([]byte, error) {
	for from < to {
		k := min(to-from, f.batchLines())
		buf = buf[:0]
		t := time.Now().UnixNano()
		for i := uint64(1); i <= k; i++ {
			buf = appendLine(buf, f.stream, from+i, t, f.cfg.lineBytes, f.pad)
		}
		if _, err := f.w.Write(buf); err != nil {
			return buf, err
		}
		from += k
		f.lines.Store(from)
	}
	return buf, nil
}

// run floods until DURATION has passed or ctx is cancelled.
func (f *writer) run(ctx context.Context) error {
	start := time.Now()
	defer func() { f.elapsed.Store(int64(time.Since(start))) }()
	var buf []byte
	var err error
	if f.cfg.rate == 0 {
		for n := uint64(0); ctx.Err() == nil; n += f.batchLines() {
			if f.cfg.duration > 0 && time.Since(start) >= f.cfg.duration {
				return nil
			}
			if buf, err = f.write(buf, n, n+f.batchLines()); err != nil {
				return err
			}
		}
		return nil
	}

	// total is the whole run's line count; 0 when unbounded.
	total := uint64(f.cfg.rate) * uint64(f.cfg.duration/time.Microsecond) / 1e6
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for n := uint64(0); ; {
		// Lines due by now, from the start: late ticks and blocked writes
		// are made up for, so the rate holds on average.
		due := uint64(f.cfg.rate) * uint64(time.Since(start)/time.Microsecond) / 1e6
		if total > 0 {
			due = min(due, total)
		}
		if buf, err = f.write(buf, n, due); err != nil {
			return err
		}
		n = due
		if total > 0 && n == total {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// summary is the "flood done" line, without its newline.
func summary(ws []*writer) string {
	var total uint64
	var elapsed time.Duration
	var per strings.Builder
	for _, w := range ws {
		n := w.lines.Load()
		total += n
		elapsed = max(elapsed, time.Duration(w.elapsed.Load()))
		fmt.Fprintf(&per, " %s=%d", w.stream, n)
	}
	return fmt.Sprintf("flood done lines=%d elapsed=%v%s", total, elapsed.Round(time.Microsecond), per.String())
}

func main() {
	ctx := plugsock.TermContext()
	cfg, err := parseEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fatal:", err)
		os.Exit(2)
	}
	path := plugsock.Path(socket)
	l, err := plugsock.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("pdflood listening on %s: rate=%d/s duration=%v line_bytes=%d streams=%s start_delay=%v\n",
		path, cfg.rate, cfg.duration, cfg.lineBytes, strings.Join(cfg.streams, ","), cfg.delay)

	pad := strings.Repeat("x", cfg.lineBytes)
	var ws []*writer
	for _, s := range cfg.streams {
		w := &writer{cfg: cfg, stream: s, w: os.Stdout, pad: pad}
		if s == "stderr" {
			w.w = os.Stderr
		}
		ws = append(ws, w)
	}
	done := make(chan struct{})
	var reported atomic.Bool // the summary is out
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.delay):
		}
		var wg sync.WaitGroup
		for _, w := range ws {
			wg.Go(func() {
				if err := w.run(ctx); err != nil {
					fmt.Fprintf(os.Stderr, "flood %s: %v\n", w.stream, err)
				}
			})
		}
		wg.Wait()
		if ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, summary(ws))
			reported.Store(true)
		}
	}()

	h := plugsock.VolumeStub()
	if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}

	// SIGTERM: report what was written, unless a write blocks for long (a
	// reader that stopped reading must not keep the plugin alive).
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	fin := make(chan struct{})
	go func() {
		if !reported.Load() {
			fmt.Fprintln(os.Stderr, summary(ws)+" (SIGTERM)")
		}
		fmt.Println("pdflood: SIGTERM received, exiting")
		close(fin)
	}()
	select {
	case <-fin:
	case <-time.After(time.Second):
	}
}
