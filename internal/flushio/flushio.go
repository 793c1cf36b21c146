// Package flushio buffers an output stream and flushes it on a timer: for
// outputs that take many small writes (one per plugin line) but must stay
// timely for whoever reads them.
package flushio

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Writer buffers writes to an underlying writer and flushes them every
// interval (when there is something to flush), on Flush and on Close. Safe
// for concurrent use.
type Writer struct {
	mu    sync.Mutex
	bw    *bufio.Writer
	after func()
	done  chan struct{}
	wg    sync.WaitGroup
}

// New returns a Writer with a buffer of size bytes. after, if not nil, is
// called after each flush that wrote something (e.g. http.Flusher.Flush).
func New(w io.Writer, size int, interval time.Duration, after func()) *Writer {
	fw := &Writer{bw: bufio.NewWriterSize(w, size), after: after, done: make(chan struct{})}
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-fw.done:
				return
			case <-t.C:
				_ = fw.Flush()
			}
		}
	}()
	return fw
}

// Write buffers p.
func (fw *Writer) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.bw.Write(p)
}

// Flush writes out what is buffered.
func (fw *Writer) Flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.bw.Buffered() == 0 {
		return nil
	}
	err := fw.bw.Flush()
	if fw.after != nil {
		fw.after()
	}
	return err
}

// Close stops the timer and flushes what is left; the underlying writer
// stays open.
func (fw *Writer) Close() error {
	close(fw.done)
	fw.wg.Wait()
	return fw.Flush()
}
