package flushio

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWriterBuffersUntilFlushAndClose uses a timer that never fires
// during the test, so that what is written stays buffered until Flush or
// Close, however slow the machine.
func TestWriterBuffersUntilFlushAndClose(t *testing.T) {
	var out lockedBuffer
	var flushes atomic.Int32
	w := New(&out, 1024, time.Hour, func() { flushes.Add(1) })
	_, _ = w.Write([]byte("a"))
	assert.Empty(t, out.String(), "buffered, not written at once")
	assert.NoError(t, w.Flush())
	assert.Equal(t, "a", out.String())
	assert.Equal(t, int32(1), flushes.Load())
	assert.NoError(t, w.Flush())
	assert.Equal(t, int32(1), flushes.Load(), "nothing to flush: no call of after")

	_, _ = w.Write([]byte("b"))
	assert.Equal(t, "a", out.String())
	assert.NoError(t, w.Close())
	assert.Equal(t, "ab", out.String())
	assert.Equal(t, int32(2), flushes.Load())
}

// TestWriterFlushesOnTimer: what is written reaches the underlying writer
// with no Flush, the timer's doing.
func TestWriterFlushesOnTimer(t *testing.T) {
	var out lockedBuffer
	var flushes atomic.Int32
	w := New(&out, 1024, time.Millisecond, func() { flushes.Add(1) })
	defer w.Close()
	_, _ = w.Write([]byte("a"))
	// The deadline only ends a test whose timer never fires.
	require.Eventually(t, func() bool { return flushes.Load() > 0 }, time.Minute, time.Millisecond, "the timer flushes")
	assert.Equal(t, "a", out.String())
	assert.Equal(t, int32(1), flushes.Load(), "one flush: nothing was buffered after it")
}

func TestWriterConcurrent(t *testing.T) {
	var out lockedBuffer
	w := New(&out, 64, time.Millisecond, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = w.Write([]byte("0123456789\n"))
			}
		}()
	}
	wg.Wait()
	assert.NoError(t, w.Close())
	assert.Equal(t, 800*11, len(out.String()))
}
