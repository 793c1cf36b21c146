package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
)

// Bounds of a top with ps options: the options as given, and ps's output
// (the host's whole process table when ps cannot take -q).
const (
	maxPSArgs   = 4 << 10
	maxPSOutput = 16 << 20
)

// userColumns are ps's columns that name a process's user. ps names them
// from the host's /etc/passwd; the plugin's own names (or numbers) are
// what its processes go by.
var userColumns = []string{"USER", "UID", "RUSER", "RUID", "EUSER", "EUID", "SUSER", "SUID", "FUSER", "FUID"}

// checkPSArgs refuses ps options that would pass another column off as
// the PID column (`-o user=PID`), as dockerd does, and options past
// maxPSArgs.
func checkPSArgs(args []string) error {
	if n := len(strings.Join(args, " ")); n > maxPSArgs {
		return errkind.Invalid(fmt.Errorf("ps options of %d bytes: at most %d", n, maxPSArgs))
	}
	for _, a := range args {
		for _, spec := range strings.Split(a, ",") {
			k, v, ok := strings.Cut(spec, "=")
			if ok && strings.HasPrefix(strings.TrimSpace(v), "PID") && k != "pid" {
				return errkind.Invalid(fmt.Errorf(`ps option %q is not allowed: only pid may be titled PID`, spec))
			}
		}
	}
	return nil
}

// psTop lists the processes of base (the plugin's own top: PID and USER
// columns) as `ps args` shows them, run on the daemon's host as docker top
// does: ps is given the plugin's PIDs (-q) where it takes them with args,
// and its rows are kept only for those PIDs (and the thread lines after
// them, as with ps -L). Columns naming users show base's user for the
// process, unless ps printed a number.
func psTop(ctx context.Context, base types.Top, args []string) (types.Top, error) {
	if err := checkPSArgs(args); err != nil {
		return types.Top{}, err
	}
	pidCol, userCol := slices.Index(base.Titles, "PID"), slices.Index(base.Titles, "USER")
	if pidCol < 0 || userCol < 0 {
		return types.Top{}, fmt.Errorf("top: no PID or USER column in %v", base.Titles)
	}
	users := map[int]string{}
	var pids []string
	for _, p := range base.Processes {
		pid, err := strconv.Atoi(p[pidCol])
		if err != nil {
			return types.Top{}, fmt.Errorf("top: bad PID %q", p[pidCol])
		}
		users[pid] = p[userCol]
		pids = append(pids, p[pidCol])
	}
	out, err := runPS(ctx, append(slices.Clone(args), "-q", strings.Join(pids, ",")))
	if err != nil {
		// Some options (f, for one) do not go with -q: all of the
		// host's processes then, filtered below.
		out, err = runPS(ctx, args)
	}
	if err != nil {
		return types.Top{}, err
	}
	return parsePS(out, users)
}

// runPS runs ps with args, its output bounded; an error says what ps said.
func runPS(ctx context.Context, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ps", args...)
	stdout, stderr := &boundedBuffer{max: maxPSOutput}, &boundedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if stdout.over {
			return nil, fmt.Errorf("ps %s: output over %d bytes", strings.Join(args, " "), maxPSOutput)
		}
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.buf.String()), "\n")
		if msg != "" {
			err = errors.New(msg)
		}
		return nil, errkind.Invalid(fmt.Errorf("ps %s: %w", strings.Join(args, " "), err))
	}
	return stdout.buf.Bytes(), nil
}

// boundedBuffer keeps up to max bytes, then fails the write (which ends
// ps with SIGPIPE or an error).
type boundedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output too long")
	}
	return b.buf.Write(p)
}

// parsePS reads ps's output: a title line, then one line a process (or a
// thread, "-" in the PID column, which goes with the process above). Rows
// are kept for the PIDs of users; the last column takes the rest of its
// line (a command line's spaces). Fields are split at ASCII white space
// only, as a command line may hold other spaces.
func parsePS(out []byte, users map[int]string) (types.Top, error) {
	fields := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' })
	}
	lines := strings.Split(string(out), "\n")
	top := types.Top{Titles: fields(lines[0]), Processes: [][]string{}}
	pidCol := slices.Index(top.Titles, "PID")
	if pidCol < 0 {
		return types.Top{}, errkind.Invalid(fmt.Errorf("ps options without a PID column (%s): the plugin's processes cannot be told apart", strings.Join(top.Titles, " ")))
	}
	n := len(top.Titles)
	keep, user := false, ""
	for _, line := range lines[1:] {
		f := fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < n {
			return types.Top{}, fmt.Errorf("ps: line %q has fewer columns than %v", line, top.Titles)
		}
		if f[pidCol] != "-" {
			pid, err := strconv.Atoi(f[pidCol])
			if err != nil {
				return types.Top{}, fmt.Errorf("ps: bad PID %q", f[pidCol])
			}
			user, keep = users[pid]
		}
		if !keep {
			continue
		}
		row := append(f[:n-1:n-1], strings.Join(f[n-1:], " "))
		for i, title := range top.Titles {
			if slices.Contains(userColumns, title) && i < len(row) {
				if _, err := strconv.Atoi(row[i]); err != nil {
					row[i] = user
				}
			}
		}
		top.Processes = append(top.Processes, row)
	}
	return top, nil
}
