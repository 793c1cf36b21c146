package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plugdbg/plugdbg/api/types"
)

// logsSample is lines of every kind printLogLine prints: times across
// second boundaries and before 1970, lines to escape, pieces, markers.
var logsSample = []types.LogLine{
	{Name: "p:latest", Time: 1700000000123456789, Stream: "stdout", Line: "hello"},
	{Name: "p:latest", Time: 1700000000999999999, Stream: "stderr", Line: "same second\x1b[0m"},
	{Name: "p:latest", Time: 1700000001000000000, Stream: "stdout", Line: "next second, zero ns"},
	{Name: "p:latest", Time: 1700000001000000001, Stream: "stdout", Line: "piece of a long line é\u009b", Partial: true},
	{Name: "p:latest", Time: 1700000001000000002, Stream: "stdout", Line: " its end"},
	{Name: "q", Skipped: 42},
	{Name: "q", Time: -1, Stream: "stdout", Line: "before 1970"},
	{Name: "q", Time: 0, Stream: "stdout", Line: "the epoch"},
	{Name: "q", Time: 1700000001000000003, Stream: "stdout", LineB64: "/wA="},
	{Name: "q", Time: 1700000001000000004, Stream: "stdout"},
	{Name: "q", Time: 253402300800000000, Stream: "stdout", Line: "year 10000"},
	{Name: "q", Time: 1700000001000000005, Stream: "stdout", Line: strings.Repeat("long ", 20000)},
}

// TestLinePrinterMatchesPrintLogLine: the fast printer writes exactly the
// bytes of printLogLine, docker's logs -t format, with every option.
func TestLinePrinterMatchesPrintLogLine(t *testing.T) {
	for _, o := range []logsOptions{{}, {timestamps: true}, {all: true}, {all: true, timestamps: true}} {
		var want, got bytes.Buffer
		w := bufio.NewWriterSize(&got, 4096)
		p := newLinePrinter(w, o)
		for _, l := range logsSample {
			printLogLine(&want, l, o)
			p.print(l)
		}
		assert.NoError(t, w.Flush())
		assert.Equal(t, want.String(), got.String(), "%+v", o)
	}
}

// BenchmarkPrintLogLine is plugdbg logs -f -t printing a flood of
// 100-byte lines: printLogLine (fmt and time.Format a line) and the
// linePrinter.
func BenchmarkPrintLogLine(b *testing.B) {
	lines := make([]types.LogLine, 1000)
	for i := range lines {
		lines[i] = types.LogLine{Name: "flood", Time: 1700000000000000000 + int64(i)*1250, Stream: "stdout",
			Line: "flood 0000123 " + strings.Repeat("x", 86)}
	}
	o := logsOptions{timestamps: true}
	b.Run("fmt", func(b *testing.B) {
		w := bufio.NewWriterSize(discard{}, 64<<10)
		for i := 0; b.Loop(); i++ {
			printLogLine(w, lines[i%len(lines)], o)
		}
	})
	b.Run("printer", func(b *testing.B) {
		p := newLinePrinter(bufio.NewWriterSize(discard{}, 64<<10), o)
		for i := 0; b.Loop(); i++ {
			p.print(lines[i%len(lines)])
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
