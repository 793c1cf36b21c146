package monitor

import (
	"strings"
	"sync"
	"testing"

	"github.com/plugdbg/plugdbg/logs"
)

// benchRead is one read from a flooding plugin's pipe: 100-byte lines, as
// bench/logs.sh's flood plugin writes them, filling a 1 MiB read.
func benchRead() (data []byte, lines int) {
	line := "stdout seq=1234567 t=1765051234123456789 pad=" + strings.Repeat("x", 54) + "\n"
	lines = (1 << 20) / len(line)
	return []byte(strings.Repeat(line, lines)), lines
}

// BenchmarkAppend is the monitor's work for each read: cut the lines,
// number and encode them, and spool them for the daemon, which acks at
// once (no log file: its write is the kernel's cost).
func BenchmarkAppend(b *testing.B) {
	data, lines := benchRead()
	m := &monitor{}
	m.cond = sync.NewCond(&m.mu)
	sp := logs.NewSplitter(logs.Stdout, logs.MaxPiece)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m.append(sp, logs.Stdout, 1765051234123456789, data, none)
		m.ack(m.lastSeq)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
