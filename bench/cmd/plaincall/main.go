// Command plaincall is the baseline of bench/probe.sh: a plain net/http
// client that POSTs one plugin method over a unix socket N times, C at a
// time, on keep-alive connections, and prints calls/s and the median
// latency in the same form as plugdbg probe --repeat.
//
// Only the calls answered with a 200 count in calls/s and in the latency: a
// failed call (a transport error, or a refusal answered faster than a real
// answer) would otherwise flatter the baseline. Any failure makes it exit 1,
// after the figures, so that the script comparing it stops.
//
//	plaincall -socket /run/.../pdvol.sock -method VolumeDriver.List -n 20000 -c 4
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxCalls bounds -n: the latencies are kept in memory, 8 bytes a call.
const maxCalls = 100_000_000

func main() {
	socket := flag.String("socket", "", "plugin socket")
	method := flag.String("method", "VolumeDriver.List", "method to call")
	body := flag.String("body", "{}\n", "request body")
	n := flag.Int("n", 10000, "calls")
	c := flag.Int("c", 1, "concurrency")
	flag.Parse()
	switch {
	case *socket == "":
		usage("-socket is required")
	case *n < 1 || *n > maxCalls:
		usage(fmt.Sprintf("-n %d: want 1 to %d", *n, maxCalls))
	case *c < 1 || *c > *n:
		usage(fmt.Sprintf("-c %d: want 1 to -n (%d)", *c, *n))
	}
	url := "http://plugin/" + *method
	if _, err := http.NewRequest(http.MethodPost, url, nil); err != nil {
		usage(fmt.Sprintf("-method %q: %v", *method, err))
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *socket)
		},
		MaxIdleConnsPerHost: *c,
	}
	client := &http.Client{Transport: tr}
	// lat[i] stays 0 for a failed call; the zeros are dropped below.
	lat := make([]time.Duration, *n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, &err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(*body)))
				req.Header.Set("Accept", "application/vnd.docker.plugins.v1.2+json")
				resp, err := client.Do(req)
				if err != nil {
					fail(fmt.Errorf("call %d: %w", i+1, err))
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					fail(fmt.Errorf("call %d: read answer: %w", i+1, err))
				case resp.StatusCode != http.StatusOK:
					fail(fmt.Errorf("call %d: status %s", i+1, resp.Status))
				default:
					lat[i] = max(time.Since(t0), 1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	ok := slices.DeleteFunc(lat, func(d time.Duration) bool { return d == 0 })
	slices.Sort(ok)
	fmt.Printf("%s: %d calls in %s: %.0f calls/s, %d failed\n",
		*method, *n, elapsed.Round(time.Millisecond), float64(len(ok))/elapsed.Seconds(), failed.Load())
	if len(ok) > 0 {
		fmt.Printf("latency: p50 %s\n", ok[len(ok)/2].Round(time.Microsecond))
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "plaincall: %d of %d calls failed, first: %v\n", failed.Load(), *n, *e)
		os.Exit(1)
	}
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "plaincall:", msg)
	os.Exit(2)
}
