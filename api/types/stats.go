package types

import "time"

// Stats is one sample of a container's cgroup counters.
type Stats struct {
	Read time.Time `json:"Read"`
	// CPUUsage is the CPU time the container's processes used, in
	// nanoseconds, since it started.
	CPUUsage uint64 `json:"CPUUsage"`
	// OnlineCPUs is the host's CPU count, the 100 % of each one.
	OnlineCPUs int `json:"OnlineCPUs"`
	// MemoryUsage is the cgroup's memory use less its inactive file cache,
	// as docker stats shows it.
	MemoryUsage uint64 `json:"MemoryUsage"`
	// MemoryLimit is the cgroup's limit, or the host's memory if lower.
	MemoryLimit uint64 `json:"MemoryLimit"`
	PidsCurrent uint64 `json:"PidsCurrent"`
	PidsLimit   uint64 `json:"PidsLimit,omitempty"` // 0: no limit
}

// StatsReport is one stats sample of a plugin and the CPU use since the sample
// before it.
type StatsReport struct {
	ID   string `json:"ID"`
	Name string `json:"Name"`
	Stats
	CPUPercent float64 `json:"CPUPercent"`
	// Calls are the calls made to an observed plugin (plugdbg observe)
	// since the sample before, as its recording point counted them; nil
	// when no recording point is in place.
	Calls *CallRates `json:"Calls,omitempty"`
}

// CallRates are an observed plugin's calls over an interval, every method
// together.
type CallRates struct {
	Seconds   float64 `json:"Seconds"`   // the interval
	Calls     uint64  `json:"Calls"`     // calls answered or ended in it
	Errors    uint64  `json:"Errors"`    // those that failed (Err, no answer, 4xx, 5xx)
	PerSecond float64 `json:"PerSecond"` // Calls / Seconds
	// P50 and P99 are latency quantiles in seconds, estimated from the
	// latency histogram as Prometheus' histogram_quantile does; 0 when
	// there was no call.
	P50 float64 `json:"P50"`
	P99 float64 `json:"P99"`
}

// Top is a process list in the shape of the Engine API's container top.
type Top struct {
	Titles    []string   `json:"Titles"`
	Processes [][]string `json:"Processes"`
}
