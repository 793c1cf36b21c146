package container

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/plugdbg/plugdbg/api/types"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on Linux.
const clockTicks = 100

// Processes lists the processes in container id: host PID, user (a name
// from the plugin's /etc/passwd where it has one), CPU time and command
// line, sorted by PID.
func Processes(stateRoot, id string) (types.Top, error) {
	ct, err := load(stateRoot, id)
	if err != nil {
		return types.Top{}, err
	}
	pids, err := ct.Processes()
	if err != nil {
		return types.Top{}, fmt.Errorf("list container processes: %w", err)
	}
	names := map[int]string{}
	if st, err := ct.State(); err == nil {
		if root, err := openRoot(st.InitProcessPid); err == nil {
			if f, err := openInRoot(root, "/etc/passwd", unix.O_RDONLY); err == nil {
				if users, err := user.ParsePasswd(f); err == nil {
					for _, u := range users {
						if _, dup := names[u.Uid]; !dup {
							names[u.Uid] = u.Name
						}
					}
				}
				f.Close()
			}
			root.Close()
		}
	}
	sort.Ints(pids)
	top := types.Top{Titles: []string{"PID", "USER", "TIME", "CMD"}}
	for _, pid := range pids {
		row, err := processRow(pid, names)
		if err != nil {
			continue // it exited meanwhile
		}
		top.Processes = append(top.Processes, row)
	}
	return top, nil
}

func processRow(pid int, names map[int]string) ([]string, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, err
	}
	// pid (comm) state ppid … utime(14) stime(15): comm may hold spaces
	// and parentheses, so split after its last ')'.
	i := bytes.LastIndexByte(stat, ')')
	j := bytes.IndexByte(stat, '(')
	if i < 0 || j < 0 {
		return nil, fmt.Errorf("bad stat for %d", pid)
	}
	comm := string(stat[j+1 : i])
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return nil, fmt.Errorf("bad stat for %d", pid)
	}
	utime, _ := strconv.ParseUint(fields[11], 10, 64)
	stime, _ := strconv.ParseUint(fields[12], 10, 64)
	cpu := time.Duration(utime+stime) * time.Second / clockTicks

	uid := -1
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					uid, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	userName := names[uid]
	if userName == "" {
		userName = strconv.Itoa(uid)
	}

	cmd := comm
	if raw, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(raw) > 0 {
		cmd = strings.TrimSpace(strings.ReplaceAll(string(bytes.TrimRight(raw, "\x00")), "\x00", " "))
		if strings.HasPrefix(cmd, ToolboxPath+"/") {
			// Show toolbox programs under their own names.
			cmd = strings.TrimPrefix(cmd, ToolboxPath+"/")
		}
	}
	return []string{strconv.Itoa(pid), userName, formatCPUTime(cpu), cmd}, nil
}

// formatCPUTime renders a CPU time as ps does: [DD-]HH:MM:SS.
func formatCPUTime(d time.Duration) string {
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	out := fmt.Sprintf("%02d:%02d:%02d", s/3600, s%3600/60, s%60)
	if days > 0 {
		out = fmt.Sprintf("%d-%s", days, out)
	}
	return out
}
