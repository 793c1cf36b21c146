// Command webuibench measures the web UI under load, for bench/webui.sh. It
// starts a private plugdbgd with its web UI on a free loopback port,
// and headless Chromium on it:
//
//   - latency: for each rate, the flood test plugin writes numbered lines
//     carrying their write time (t=<unix ns>) for a while; one page follows
//     it, and records, for every line, the moment the line was appended to
//     the page's DOM. It prints p50/p99/max of (render time − write time),
//     and how many of the plugin's lines the page rendered;
//   - memory: the daemon's RSS with no page, with 20 pages open on every
//     plugin's logs, and its peak (VmHWM) while those 20 pages follow a
//     plugin writing 1,000 lines/s.
//
// Needs root, /usr/bin/chromium, the plugdbgd binary (with the UI bundle)
// and the built flood plugin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/webui"
)

func main() {
	bin := flag.String("plugdbgd", "build/plugdbgd", "the daemon binary")
	flood := flag.String("flood", "build/plugins/flood", "the built flood plugin directory")
	rates := flag.String("rates", "100,10000", "lines per second to measure latency at")
	dur := flag.Duration("duration", 10*time.Second, "how long the plugin writes at each rate")
	pages := flag.Int("pages", 20, "pages open for the memory measurement")
	chromium := flag.String("chromium", "/usr/bin/chromium", "the browser")
	flag.Parse()
	if err := run(*bin, *flood, *rates, *dur, *pages, *chromium); err != nil {
		fmt.Fprintln(os.Stderr, "webuibench:", err)
		os.Exit(1)
	}
}

type bench struct {
	tmp, sock, addr, token string
	cmd                    *exec.Cmd
	c                      *client.Client
	browser                context.Context
}

func run(bin, flood, rateList string, dur time.Duration, pages int, chromium string) (retErr error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: plugins run as containers")
	}
	floodDir, err := filepath.Abs(flood)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("/tmp", "pdw")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{tmp: tmp, sock: filepath.Join(tmp, "pd.sock")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.addr = ln.Addr().String()
	ln.Close()
	log, err := os.Create(filepath.Join(tmp, "daemon.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	b.cmd = exec.Command(bin, "-H", "unix://"+b.sock, "--data-root", filepath.Join(tmp, "d"),
		"--exec-root", filepath.Join(tmp, "x"), "--ui-addr", b.addr, "--log-level", "warn")
	b.cmd.Stdout, b.cmd.Stderr = log, log
	if err := b.cmd.Start(); err != nil {
		return err
	}
	b.c = client.New("unix://" + b.sock)
	defer b.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for i := 0; ; i++ {
		if _, err := b.c.List(ctx, client.ListOptions{}); err == nil {
			break
		}
		if i > 300 {
			return errors.New("the daemon did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(tmp, "x", webui.TokenFile))
	if err != nil {
		return err
	}
	b.token = strings.TrimSpace(string(tok))

	uiHost, _, err := net.SplitHostPort(b.addr)
	if err != nil {
		return err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(tmp, "chromium")), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		// The browser's own look-ups must not leave the machine: nothing
		// resolves but the UI's loopback address.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE "+uiHost))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	b.browser, _ = chromedp.NewContext(actx)
	if err := chromedp.Do(b.browser); err != nil { // starts the browser
		return fmt.Errorf("start chromium: %w", err)
	}

	fmt.Printf("webui bench: plugdbgd pid %d, UI on %s, chromium %s\n", b.cmd.Process.Pid, b.addr, chromium)
	for _, r := range strings.Split(rateList, ",") {
		rate, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			return fmt.Errorf("rate %q: %w", r, err)
		}
		if err := b.latency(ctx, floodDir, rate, dur); err != nil {
			return fmt.Errorf("latency at %d lines/s: %w", rate, err)
		}
	}
	return b.memory(ctx, floodDir, pages)
}

func (b *bench) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if ps, err := b.c.List(ctx, client.ListOptions{}); err == nil {
		for _, p := range ps {
			_ = b.c.Remove(ctx, p.ID, true)
		}
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
}

// openPage opens a new tab on the UI and waits until its socket is up.
func (b *bench) openPage(ctx context.Context) (context.Context, context.CancelFunc, error) {
	tab, cancel := chromedp.NewContext(b.browser)
	err := chromedp.Do(tab, chromedp.Navigate(webui.URL(b.addr, b.token)))
	for i := 0; err == nil; i++ {
		var ok bool
		ok, err = chromedp.Run(tab, chromedp.Evaluate[bool](`!!(window.plugdbg && window.plugdbg.connected)`))
		if ok {
			return tab, cancel, nil
		}
		if i > 500 {
			err = errors.New("the page did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	return nil, nil, err
}

// recorder hooks the log view: every rendered flood line's latency (ms,
// render time minus the t= the plugin wrote) goes to window.__lat.
const recorder = `(() => {
  window.__lat = []; window.__lines = 0; window.__arr = []; if (window.__nopaint) window.plugdbg.logs.setPaused(true);
  window.plugdbg.logs.onArrive = (lines) => {
    const now = performance.timeOrigin + performance.now();
    for (const l of lines) {
      const m = / t=(\d+)/.exec(l.l || "");
      if (m) window.__arr.push(now - Number(m[1]) / 1e6);
    }
  };
  window.plugdbg.logs.onRender = (lines) => {
    const now = performance.timeOrigin + performance.now();
    for (const l of lines) {
      const m = / t=(\d+)/.exec(l.l || "");
      if (!m) continue;
      window.__lines++;
      window.__lat.push(now - Number(m[1]) / 1e6);
    }
  };
  return true;
})()`

// follow points a page's log view at plugin name.
func follow(tab context.Context, name string) error {
	_, err := chromedp.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  const s = document.querySelector('#log-plugin');
  if (![...s.options].some(o => o.value === %[1]q)) { const o = document.createElement('option'); o.value = o.textContent = %[1]q; s.append(o); }
  s.value = %[1]q; s.dispatchEvent(new Event('change')); return true; })()`, name)))
	return err
}

func (b *bench) createFlood(ctx context.Context, name, dir string, settings ...string) error {
	if err := b.c.CreateFromDir(ctx, name, dir); err != nil {
		return err
	}
	return b.c.Set(ctx, name, settings)
}

func (b *bench) latency(ctx context.Context, dir string, rate int, dur time.Duration) error {
	name := fmt.Sprintf("flood%d", rate)
	if err := b.createFlood(ctx, name, dir, "RATE="+strconv.Itoa(rate), "DURATION="+dur.String(), "START_DELAY=2s", "LINE_BYTES=100"); err != nil {
		return err
	}
	defer b.c.Remove(context.Background(), name, true)
	tab, closeTab, err := b.openPage(ctx)
	if err != nil {
		return err
	}
	defer closeTab()
	if err := follow(tab, name+":latest"); err != nil {
		return err
	}
	if os.Getenv("NOPAINT") != "" { // measure the socket alone: the page renders nothing
		_, _ = chromedp.Run(tab, chromedp.Evaluate[bool](`window.__nopaint = true`))
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](recorder)); err != nil {
		return err
	}
	if err := b.c.Enable(ctx, name, 30*time.Second); err != nil {
		return err
	}
	want := rate * int(dur/time.Second)
	deadline := time.Now().Add(2*time.Second + dur + 15*time.Second)
	var got int
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		got, err = chromedp.Run(tab, chromedp.Evaluate[int](`window.__lines`))
		if err != nil {
			return err
		}
		if got >= want {
			break
		}
	}
	lat, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](`window.__lat`))
	if err != nil {
		return err
	}
	arr, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](`window.__arr`))
	if err != nil {
		return err
	}
	fmt.Printf("latency rate=%d lines/s duration=%s rendered=%d/%d write→page p50=%.1fms p99=%.1fms max=%.1fms (write→socket message p50=%.1fms p99=%.1fms)\n",
		rate, dur, got, want, pct(lat, 0.50), pct(lat, 0.99), pct(lat, 1), pct(arr, 0.5), pct(arr, 0.99))
	return nil
}

func (b *bench) memory(ctx context.Context, dir string, pages int) error {
	rss0, err := rss(b.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("memory daemon RSS, no page: %.1f MiB\n", rss0)
	if err := b.createFlood(ctx, "floodmem", dir, "RATE=1000", "DURATION=0", "LINE_BYTES=100"); err != nil {
		return err
	}
	var tabs []context.CancelFunc
	defer func() {
		for _, c := range tabs {
			c()
		}
	}()
	for range pages {
		_, c, err := b.openPage(ctx)
		if err != nil {
			return err
		}
		tabs = append(tabs, c)
	}
	time.Sleep(2 * time.Second)
	rss1, _ := rss(b.cmd.Process.Pid)
	fmt.Printf("memory daemon RSS, %d pages open (all plugins' logs, events, plugin table): %.1f MiB\n", pages, rss1)
	// The kernel's high-water mark sees every page the daemon touched, where
	// sampling VmRSS would miss a peak between two samples. Writing 5 to
	// clear_refs resets the mark to the current RSS, so that the peak is
	// this phase's and not the latency runs'.
	since := "this phase"
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.cmd.Process.Pid), []byte("5"), 0); err != nil {
		fmt.Fprintf(os.Stderr, "webuibench: reset the daemon's VmHWM: %v (the peak is since its start)\n", err)
		since = "the daemon's start"
	}
	if err := b.c.Enable(ctx, "floodmem", 30*time.Second); err != nil {
		return err
	}
	time.Sleep(10 * time.Second) // the length of the measurement, not a wait
	peak, err := statusMiB(b.cmd.Process.Pid, "VmHWM")
	if err != nil {
		return err
	}
	rss2, _ := statusMiB(b.cmd.Process.Pid, "VmRSS")
	fmt.Printf("memory daemon RSS, %d pages following a plugin at 1000 lines/s for 10s: peak %.1f MiB (VmHWM since %s), %.1f MiB at the end\n", pages, peak, since, rss2)
	return nil
}

// rss is a process's resident set size in MiB.
func rss(pid int) (float64, error) { return statusMiB(pid, "VmRSS") }

// statusMiB reads a kB field of /proc/PID/status, such as VmRSS or VmHWM,
// in MiB.
func statusMiB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				return 0, fmt.Errorf("pid %d %s %q: %w", pid, field, v, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("pid %d: no %s in its status", pid, field)
}

// pct is the p-quantile of xs (sorted in place), in the xs' unit.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(p*float64(len(xs))))]
}
