package integration

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
	"github.com/plugdbg/plugdbg/probe"
)

// startDaemonWith is startDaemon with extra daemon flags, such as
// --log-max-size. A restart of such a daemon must go through startWith
// with the same flags: d.start and d.restart pass none.
func startDaemonWith(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := newDaemon(t)
	d.startWith(args...)
	return d
}

// newDaemon makes the roots' directory of a daemon, with the cleanup
// startDaemon describes, and starts nothing yet.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pdi")
	require.NoError(t, err)
	d := &daemon{
		t:        t,
		dir:      dir,
		dataRoot: filepath.Join(dir, "d"),
		execRoot: filepath.Join(dir, "x"),
		sock:     filepath.Join(dir, "api.sock"),
	}
	d.host = "unix://" + d.sock
	d.client = client.New(d.host)
	t.Cleanup(d.cleanup)
	return d
}

// startWith is d.start with extra daemon flags.
func (d *daemon) startWith(args ...string) {
	t := d.t
	t.Helper()
	require.False(t, d.running(), "a daemon is already running on %s", d.dir)
	p := &daemonProc{log: filepath.Join(d.dir, fmt.Sprintf("daemon-%d.log", len(d.logs)+1)), done: make(chan struct{})}
	f, err := os.Create(p.log)
	require.NoError(t, err)
	defer f.Close()
	argv := append([]string{"--data-root", d.dataRoot, "--exec-root", d.execRoot, "-H", d.host}, args...)
	bin := d.bin
	if bin == "" {
		bin = plugdbgdBin
	}
	p.cmd = exec.Command(bin, argv...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if raceEnabled {
		require.NoError(t, os.MkdirAll(filepath.Join(d.dir, "race"), 0o755))
		p.cmd.Env = append(os.Environ(), "GORACE=log_path="+filepath.Join(d.dir, "race", "report"))
	}
	require.NoError(t, p.cmd.Start())
	d.proc = p
	d.logs = append(d.logs, p)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(readyTimeout)
	for ping(d.sock) != nil {
		select {
		case <-p.done:
			require.FailNowf(t, "daemon exited before it answered /_ping", "%v; log:\n%s", p.err, d.daemonLog())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "daemon did not answer /_ping", "within %s; log:\n%s", readyTimeout, d.daemonLog())
		}
	}
}

// allDaemonLogs is what every daemon process on d's roots wrote, in order.
func (d *daemon) allDaemonLogs() []string {
	var out []string
	for _, p := range d.logs {
		b, _ := os.ReadFile(p.log)
		out = append(out, string(b))
	}
	return out
}

// logPath is plugin id's current log file.
func (d *daemon) logPath(id string) string {
	return filepath.Join(d.storeDir(id), "logs", "plugin.log")
}

// echoWrite makes a pdecho plugin write data raw to stream ("stdout" or
// "stderr") through its socket, and returns once the write is done.
func echoWrite(t *testing.T, sock, stream, data string) {
	t.Helper()
	c := probe.New(sock)
	defer c.Close()
	var ret struct {
		Written int
		Err     string
	}
	args := map[string]string{"Stream": stream, "DataB64": base64.StdEncoding.EncodeToString([]byte(data))}
	require.NoError(t, c.Call(testCtx(t), "Echo.Write", args, &ret), "Echo.Write %s %q", stream, data)
	require.Empty(t, ret.Err, "Echo.Write %s %q", stream, data)
	require.Equal(t, len(data), ret.Written, "Echo.Write %s %q", stream, data)
}

// apiLine is one object of the logs API's stream.
type apiLine struct {
	types.LogLine
	Error string `json:"error"`
}

// apiLogs returns what GET /plugins/<ref>/logs (or /logs for ref "")
// answers to query, without following.
func (d *daemon) apiLogs(t *testing.T, ref string, query url.Values) []apiLine {
	t.Helper()
	path := "/logs"
	if ref != "" {
		path = "/plugins/" + ref + "/logs"
	}
	hc := unixHTTP(d.sock, time.Minute)
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://plugdbg" + path + "?" + query.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out []apiLine
	dec := json.NewDecoder(resp.Body)
	for {
		var l apiLine
		if err := dec.Decode(&l); err == io.EOF {
			return out
		} else {
			require.NoError(t, err)
		}
		out = append(out, l)
	}
}

// followed is one output line of a follower, and when the test read it.
type followed struct {
	text string
	at   time.Time
}

// cliFollower is a `plugdbg logs -f …` process whose output lines are
// collected as they come.
type cliFollower struct {
	cmd   *exec.Cmd
	start time.Time
	mu    sync.Mutex
	lines []followed
	done  chan struct{} // closed when its output ended
}

// followCLI starts `plugdbg logs -f args…` against d. It ends with the test.
func (d *daemon) followCLI(t *testing.T, args ...string) *cliFollower {
	t.Helper()
	f, read := d.followCLIPaused(t, args...)
	read()
	return f
}

// followCLIPaused is followCLI whose output is not read until read is
// called: until then the follower blocks once the pipe is full, as on a
// terminal that stopped scrolling.
func (d *daemon) followCLIPaused(t *testing.T, args ...string) (f *cliFollower, read func()) {
	t.Helper()
	cmd := exec.Command(plugdbgBin, append([]string{"logs", "-f"}, args...)...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	f = &cliFollower{cmd: cmd, done: make(chan struct{}), start: time.Now()}
	require.NoError(t, cmd.Start())
	started := make(chan struct{})
	var once sync.Once
	read = func() { once.Do(func() { close(started) }) }
	go func() {
		defer close(f.done)
		<-started
		r := bufio.NewReaderSize(out, 1<<20)
		for {
			s, err := r.ReadString('\n')
			if err != nil {
				return
			}
			now := time.Now()
			f.mu.Lock()
			f.lines = append(f.lines, followed{strings.TrimSuffix(s, "\n"), now})
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		read()
		<-f.done
		_ = cmd.Wait()
	})
	return f, read
}

func (f *cliFollower) snapshot() []followed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lines)
}

// waitLine waits until a line containing sub has come and returns it.
func (f *cliFollower) waitLine(t *testing.T, sub string, timeout time.Duration) followed {
	t.Helper()
	var got followed
	eventually(t, func() bool {
		for _, l := range f.snapshot() {
			if strings.Contains(l.text, sub) {
				got = l
				return true
			}
		}
		return false
	}, timeout, "follower: no line containing %q", sub)
	return got
}

// floodLine matches a line of pdflood.
var floodLine = regexp.MustCompile(`^(stdout|stderr) seq=(\d+) t=(\d+) pad=x*$`)

// floodSeq parses a pdflood line: its stream, seq and write time.
func floodSeq(s string) (stream string, seq uint64, written time.Time, ok bool) {
	m := floodLine.FindStringSubmatch(s)
	if m == nil {
		return "", 0, time.Time{}, false
	}
	seq, _ = strconv.ParseUint(m[2], 10, 64)
	ns, _ := strconv.ParseInt(m[3], 10, 64)
	return m[1], seq, time.Unix(0, ns), true
}

// floodSeqs returns the seq numbers of the pdflood lines of stream among
// lines, in order.
func floodSeqs(lines []string, stream string) []uint64 {
	var out []uint64
	for _, l := range lines {
		if s, n, _, ok := floodSeq(l); ok && s == stream {
			out = append(out, n)
		}
	}
	return out
}

// seqProblems describes how seqs differs from exactly from, from+1, …, to
// in order: "" if it does not.
func seqProblems(seqs []uint64, from, to uint64) string {
	var probs []string
	add := func(format string, args ...any) {
		if len(probs) < 10 {
			probs = append(probs, fmt.Sprintf(format, args...))
		}
	}
	seen := map[uint64]int{}
	dups, missing, disorder := 0, 0, 0
	for i, s := range seqs {
		seen[s]++
		if seen[s] == 2 {
			dups++
			add("duplicate %d", s)
		}
		if i > 0 && s <= seqs[i-1] && seen[s] == 1 {
			disorder++
			add("%d after %d", s, seqs[i-1])
		}
		if s < from || s > to {
			add("unexpected %d", s)
		}
	}
	for s := from; s <= to; s++ {
		if seen[s] == 0 {
			if missing == 0 || seen[s-1] != 0 {
				add("missing from %d", s)
			}
			missing++
		}
	}
	if len(probs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d lines for %d…%d: %d missing, %d duplicates, %d out of order; first problems: %s",
		len(seqs), from, to, missing, dups, disorder, strings.Join(probs, "; "))
}

// lastFloodSeq is the seq of the newest pdflood stdout line in plugin ref's
// history, 0 if none.
func (d *daemon) lastFloodSeq(t *testing.T, ref string) uint64 {
	t.Helper()
	ls := d.apiLogs(t, ref, url.Values{"tail": {"1"}, "stream": {"stdout"}})
	if len(ls) == 0 {
		return 0
	}
	_, n, _, _ := floodSeq(ls[len(ls)-1].Text())
	return n
}

// floodDone waits for pdflood's summary line in plugin ref's history and
// returns the elapsed time it reports.
func (d *daemon) floodDone(t *testing.T, ref string, timeout time.Duration) (line string, elapsed time.Duration) {
	t.Helper()
	eventually(t, func() bool {
		ls := d.apiLogs(t, ref, url.Values{"stream": {"stderr"}, "grep": {"^flood done"}})
		if len(ls) > 0 {
			line = ls[len(ls)-1].Text()
			return true
		}
		return false
	}, timeout, "pdflood's summary line in %s's history", ref)
	m := regexp.MustCompile(` elapsed=(\S+)`).FindStringSubmatch(line)
	require.NotNil(t, m, "summary %q", line)
	elapsed, err := time.ParseDuration(m[1])
	require.NoError(t, err, "summary %q", line)
	return line, elapsed
}

// percentile returns the p-th percentile (0-100) of ds, sorting ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

// rawFollow opens GET path on the API socket with a bare connection, so
// that the test decides when, and whether, the body is read.
func rawFollow(t *testing.T, sock, path string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: plugdbg\r\n\r\n", path)
	require.NoError(t, err)
	// A small buffer: what the test does not read stays in the socket.
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return c, br, resp
}
