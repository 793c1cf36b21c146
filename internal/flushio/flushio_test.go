package flushio

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

func TestWriterFlushesOnTimerFlushAndClose(t *testing.T) {
	var out lockedBuffer
	var flushes atomic.Int32
	w := New(&out, 1024, 10*time.Millisecond, func() { flushes.Add(1) })
	_, _ = w.Write([]byte("a"))
	assert.Empty(t, out.String(), "buffered, not written at once")
	assert.Eventually(t, func() bool { return out.String() == "a" }, time.Second, time.Millisecond, "the timer flushes")
	idle := flushes.Load()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, idle, flushes.Load(), "nothing to flush: no call of after")

	_, _ = w.Write([]byte("b"))
	assert.NoError(t, w.Flush())
	assert.Equal(t, "ab", out.String())
	_, _ = w.Write([]byte("c"))
	assert.NoError(t, w.Close())
	assert.Equal(t, "abc", out.String())
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
