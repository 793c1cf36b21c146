package container

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
)

// ReadStats samples the cgroup counters of container id.
func ReadStats(stateRoot, id string) (types.Stats, error) {
	ct, err := load(stateRoot, id)
	if err != nil {
		return types.Stats{}, err
	}
	st, err := ct.Stats()
	if err != nil {
		return types.Stats{}, fmt.Errorf("read container stats: %w", err)
	}
	out := types.Stats{Read: time.Now(), OnlineCPUs: onlineCPUs()}
	cg := st.CgroupStats
	if cg == nil {
		return out, nil
	}
	out.CPUUsage = cg.CpuStats.CpuUsage.TotalUsage
	mem := cg.MemoryStats
	out.MemoryUsage = mem.Usage.Usage
	// cgroup v1 names it total_inactive_file, v2 inactive_file.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := mem.Stats[k]; ok {
			if v < out.MemoryUsage {
				out.MemoryUsage -= v
			}
			break
		}
	}
	out.MemoryLimit = mem.Usage.Limit
	if total := hostMemory(); total > 0 && (out.MemoryLimit == 0 || out.MemoryLimit > total) {
		out.MemoryLimit = total
	}
	out.PidsCurrent = cg.PidsStats.Current
	if cg.PidsStats.Limit > 0 && cg.PidsStats.Limit < 1<<62 {
		out.PidsLimit = cg.PidsStats.Limit
	}
	return out, nil
}

// CPUPercent is the CPU use between two samples, in percent of one CPU
// (200 % is two CPUs busy), as docker stats shows it.
func CPUPercent(prev, cur types.Stats) float64 {
	wall := cur.Read.Sub(prev.Read)
	if wall <= 0 || cur.CPUUsage < prev.CPUUsage {
		return 0
	}
	return float64(cur.CPUUsage-prev.CPUUsage) / float64(wall.Nanoseconds()) * 100
}

func onlineCPUs() int {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	n := 0
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		lo, hi, found := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if found {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 == nil && err2 == nil && b >= a {
			n += b - a + 1
		}
	}
	return n
}

// hostMemory is MemTotal of /proc/meminfo in bytes, or 0.
func hostMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseUint(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
