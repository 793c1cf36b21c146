package observe

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// plainProxy is the least a proxy can do: copy both ways, parse nothing.
// It is the baseline that tells the parser's and counters' cost from the
// cost of a hop through a proxy at all.
func plainProxy(b *testing.B, target string) string {
	path := filepath.Join(filepath.Dir(target), "plain.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); up.(*net.UnixConn).CloseWrite() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return path
}

// BenchmarkCall times one kept-alive call to a net/http volume plugin:
// direct, through a plain copying proxy, through the recording point with
// no trace attached, with a trace attached (each call recorded), with a
// trace's own proxy stacked on top of it (as a trace did before it could
// read the point), and through a trace's proxy alone.
func BenchmarkCall(b *testing.B) {
	for _, via := range []string{"direct", "plain-proxy", "observed", "observed-traced", "observed+trace-proxy", "trace-proxy"} {
		b.Run(via, func(b *testing.B) {
			path, _ := servePlugin(b, volumePlugin())
			switch via {
			case "plain-proxy":
				path = plainProxy(b, path)
			case "observed", "observed-traced", "observed+trace-proxy":
				p, err := Install(path, NewStats())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = p.Remove() })
				if via == "observed-traced" {
					p.Trace(func(types.TraceRecord) {})
				}
			}
			if strings.HasSuffix(via, "trace-proxy") {
				tp, err := tracer.Start(path, func(types.TraceRecord) {})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tp.Stop() })
			}
			c := unixClient(path)
			defer c.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Post("http://plugin/VolumeDriver.List", "application/json", nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
