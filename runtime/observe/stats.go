package observe

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// maxMethodLen bounds a method name; longer request paths count as
// types.OtherMethod.
const maxMethodLen = 100

// bucketBounds are types.CallLatencyBuckets in nanoseconds.
var bucketBounds = func() []int64 {
	b := make([]int64, len(types.CallLatencyBuckets))
	for i, s := range types.CallLatencyBuckets {
		b[i] = int64(s * float64(time.Second))
	}
	return b
}()

// Stats counts the calls of one plugin; it is the tracer.Counter of its
// point's connections. Safe for concurrent use; its counters only grow.
type Stats struct {
	since time.Time // also the origin of now's monotonic clock

	mu      sync.Mutex
	methods map[string]*methodStats
	other   *methodStats // created on first use

	unparsed atomic.Uint64
}

type methodStats struct {
	name     string
	count    uint64
	statuses map[int]uint64
	buckets  []uint64 // not cumulative; len(bucketBounds)
	sumNs    uint64
}

// NewStats returns counters that start now.
func NewStats() *Stats {
	return &Stats{since: time.Now(), methods: map[string]*methodStats{}}
}

// Method implements tracer.Counter: the counters of the method a request
// target names.
func (s *Stats) Method(target []byte) any { return s.method(target) }

// Count implements tracer.Counter.
func (s *Stats) Count(method any, status int, d time.Duration) {
	s.record(method.(*methodStats), status, int64(d))
}

// Unparsed implements tracer.Counter.
func (s *Stats) Unparsed() { s.unparsed.Add(1) }

// method returns the counters of the method named by a request target
// (origin form "/Plugin.Activate", absolute form, a query is ignored).
func (s *Stats) method(target []byte) *methodStats {
	name := methodName(target)
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != nil {
		if m := s.methods[string(name)]; m != nil { // no allocation: map index
			return m
		}
		if len(s.methods) < types.MaxMethods {
			m := newMethodStats(string(name))
			s.methods[m.name] = m
			return m
		}
	}
	if s.other == nil {
		s.other = newMethodStats(types.OtherMethod)
	}
	return s.other
}

func newMethodStats(name string) *methodStats {
	return &methodStats{name: name, statuses: map[int]uint64{}, buckets: make([]uint64, len(bucketBounds))}
}

// methodName returns the method a request target names, or nil if it is
// not a method name.
func methodName(target []byte) []byte {
	for _, scheme := range []string{"http://", "https://"} {
		if len(target) > len(scheme) && string(target[:len(scheme)]) == scheme {
			rest := target[len(scheme):]
			i := 0
			for i < len(rest) && rest[i] != '/' {
				i++
			}
			target = rest[i:]
			break
		}
	}
	for i, c := range target {
		if c == '?' || c == '#' {
			target = target[:i]
			break
		}
	}
	if len(target) > 0 && target[0] == '/' {
		target = target[1:]
	}
	if len(target) == 0 || len(target) > maxMethodLen {
		return nil
	}
	for _, c := range target {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'
		if !ok {
			return nil
		}
	}
	if string(target) == types.OtherMethod {
		return nil // the same counters: a path "/other" is not told apart
	}
	return target
}

// record counts one call of m with status that took d nanoseconds.
func (s *Stats) record(m *methodStats, status int, d int64) {
	d = max(d, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	m.count++
	m.statuses[status]++
	for i, b := range bucketBounds {
		if d <= b {
			m.buckets[i]++
			break
		}
	}
	m.sumNs += uint64(d)
}

// Snapshot returns the counters as they are now, with cumulative buckets;
// Plugin and Name are left for the caller.
func (s *Stats) Snapshot() types.CallStats {
	out := types.CallStats{Since: s.since, Unparsed: s.unparsed.Load(), Methods: []types.MethodCalls{}}
	s.mu.Lock()
	all := make([]*methodStats, 0, len(s.methods)+1)
	for _, m := range s.methods {
		all = append(all, m)
	}
	if s.other != nil {
		all = append(all, s.other)
	}
	for _, m := range all {
		mc := types.MethodCalls{
			Method:   m.name,
			Count:    m.count,
			Statuses: make(map[string]uint64, len(m.statuses)),
			Buckets:  make([]uint64, len(m.buckets)),
			Sum:      float64(m.sumNs) / float64(time.Second),
		}
		for st, n := range m.statuses {
			mc.Statuses[statusName(st)] = n
		}
		var cum uint64
		for i, n := range m.buckets {
			cum += n
			mc.Buckets[i] = cum
		}
		out.Methods = append(out.Methods, mc)
	}
	s.mu.Unlock()
	sort.Slice(out.Methods, func(i, j int) bool { return out.Methods[i].Method < out.Methods[j].Method })
	return out
}

func statusName(st int) string {
	switch st {
	case tracer.StatusNone:
		return types.CallNoAnswer
	case tracer.StatusErr:
		return types.CallErr
	}
	return strconv.Itoa(st)
}
