package dockerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
)

// Line is one line of dockerd's log in logrus text format (what dockerd
// writes for plugin output when its stderr is not a terminal, §4).
type Line struct {
	Time   time.Time
	Level  string
	Msg    string
	Fields map[string]string // the other keys, plugin among them
}

// ParseLine parses `time="…" level=info msg="…" plugin=<id>`. Values are
// bare or Go-quoted, as logrus writes them.
func ParseLine(s string) (Line, bool) {
	var l Line
	l.Fields = map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return l, false
		}
		key := s[i : i+eq]
		if strings.ContainsAny(key, " \"") {
			return l, false
		}
		i += eq + 1
		var val string
		if i < len(s) && s[i] == '"' {
			end := i + 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return l, false
			}
			v, err := strconv.Unquote(s[i : end+1])
			if err != nil {
				return l, false
			}
			val, i = v, end+1
		} else {
			end := strings.IndexByte(s[i:], ' ')
			if end < 0 {
				end = len(s) - i
			}
			val, i = s[i:i+end], i+end
		}
		switch key {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return l, false
			}
			l.Time = t
		case "level":
			l.Level = val
		case "msg":
			l.Msg = val
		default:
			l.Fields[key] = val
		}
	}
	return l, !l.Time.IsZero() && l.Level != ""
}

// stream is the plugin stream a line came from: dockerd logs stdout at
// info and stderr at error (§4).
func stream(level string) string {
	if level == "error" {
		return "stderr"
	}
	return "stdout"
}

// pollInterval is how often a followed log file is checked for growth.
const pollInterval = 200 * time.Millisecond

// Logs sends the output lines of dockerd's plugin p (lines with
// plugin=<ID>) from dockerd's log, filtered by o as plugdbg logs filters
// its own (since, until, tail, stream, grep, follow). Times have dockerd's
// second precision.
func (h *Host) Logs(ctx context.Context, id, name string, o types.LogOptions, fn func(types.LogLine) error) error {
	match := func(raw string) (types.LogLine, bool) {
		if !strings.Contains(raw, id) {
			return types.LogLine{}, false
		}
		l, ok := ParseLine(raw)
		if !ok || l.Fields["plugin"] != id {
			return types.LogLine{}, false
		}
		ll := types.LogLine{Plugin: id, Name: name, Time: l.Time.UnixNano(), Stream: stream(l.Level), Line: l.Msg}
		switch {
		case o.Stream != "" && ll.Stream != o.Stream,
			!o.Since.IsZero() && l.Time.Before(o.Since.Truncate(time.Second)),
			!o.Until.IsZero() && !l.Time.Before(o.Until),
			o.Grep != nil && !o.Grep.MatchString(l.Msg):
			return ll, false
		}
		return ll, true
	}
	// History: every matching line, the last o.Tail of them.
	var hist []types.LogLine
	keep := func(raw string) {
		if ll, ok := match(raw); ok && o.Tail >= 0 {
			hist = append(hist, ll)
			if o.Tail > 0 && len(hist) > 2*o.Tail {
				hist = append(hist[:0], hist[len(hist)-o.Tail:]...)
			}
		}
	}
	var follow func(func(string) error) error
	if h.LogFile != "" {
		f, err := os.Open(h.LogFile)
		if err != nil {
			return fmt.Errorf("read dockerd's log: %w", err)
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 64<<10)
		off, err := readLines(r, keep)
		if err != nil {
			return fmt.Errorf("read dockerd's log %s: %w", h.LogFile, err)
		}
		follow = func(each func(string) error) error { return tailFile(ctx, f, off, each) }
	} else {
		unit := h.LogUnit
		if unit == "" {
			unit = "docker"
		}
		if err := journal(ctx, []string{"-u", unit, "-o", "cat", "--no-pager"}, func(s string) error { keep(s); return nil }); err != nil {
			return err
		}
		follow = func(each func(string) error) error {
			return journal(ctx, []string{"-u", unit, "-o", "cat", "--no-pager", "-f", "-n", "0"}, each)
		}
	}
	if o.Tail > 0 && len(hist) > o.Tail {
		hist = hist[len(hist)-o.Tail:]
	}
	if o.Started != nil {
		o.Started()
	}
	for _, ll := range hist {
		if err := fn(ll); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	if !o.Until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.Until)
		defer cancel()
	}
	err := follow(func(raw string) error {
		if ll, ok := match(raw); ok {
			return fn(ll)
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// readLines calls fn with each complete line of r and returns how many
// bytes those lines took; a last line without its newline is left unread.
func readLines(r *bufio.Reader, fn func(string)) (int64, error) {
	var off int64
	for {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		if err != nil {
			return off, err
		}
		off += int64(len(line))
		fn(strings.TrimRight(line, "\r\n"))
	}
}

// tailFile follows f from off until ctx ends, calling each with every new
// complete line; a file that shrank (truncated or replaced by a rotation
// in place) is read again from its start.
func tailFile(ctx context.Context, f *os.File, off int64, each func(string) error) error {
	path := f.Name()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollInterval):
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if cur, err := f.Stat(); err != nil || !os.SameFile(fi, cur) || fi.Size() < off {
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			f.Close()
			f, off = nf, 0
		}
		if fi.Size() == off {
			continue
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err
		}
		var cbErr error
		n, err := readLines(bufio.NewReader(f), func(s string) {
			if cbErr == nil {
				cbErr = each(s)
			}
		})
		if cbErr != nil {
			return cbErr
		}
		if err != nil {
			return err
		}
		off += n
	}
}

// journal runs journalctl with args and calls each with every line.
func journal(ctx context.Context, args []string, each func(string) error) error {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return errors.New("dockerd's log: no log file was given (plugdbgd --docker-log) and journalctl is not installed")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dockerd's log: journalctl: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cbErr error
	for sc.Scan() {
		if cbErr = each(sc.Text()); cbErr != nil {
			break
		}
	}
	if cbErr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if cbErr != nil {
		return cbErr
	}
	if werr != nil && ctx.Err() == nil {
		return fmt.Errorf("dockerd's log: journalctl %s: %w: %s", strings.Join(args, " "), werr, strings.TrimSpace(stderr.String()))
	}
	return nil
}
