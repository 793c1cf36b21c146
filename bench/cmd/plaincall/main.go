// Command plaincall is the baseline of bench/probe.sh: a plain net/http
// client that POSTs one plugin method over a unix socket N times, C at a
// time, on keep-alive connections, and prints calls/s and the median
// latency in the same form as plugdbg probe --repeat.
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

func main() {
	socket := flag.String("socket", "", "plugin socket")
	method := flag.String("method", "VolumeDriver.List", "method to call")
	body := flag.String("body", "{}\n", "request body")
	n := flag.Int("n", 10000, "calls")
	c := flag.Int("c", 1, "concurrency")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "plaincall: -socket is required")
		os.Exit(2)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *socket)
		},
		MaxIdleConnsPerHost: *c,
	}
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, *n)
	var next atomic.Int64
	var failed atomic.Int64
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
				req, _ := http.NewRequest(http.MethodPost, "http://plugin/"+*method, bytes.NewReader([]byte(*body)))
				req.Header.Set("Accept", "application/vnd.docker.plugins.v1.2+json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	fmt.Printf("%s: %d calls in %s: %.0f calls/s, %d failed\n", *method, *n, elapsed.Round(time.Millisecond), float64(*n)/elapsed.Seconds(), failed.Load())
	fmt.Printf("latency: p50 %s\n", lat[len(lat)/2].Round(time.Microsecond))
}
