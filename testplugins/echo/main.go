// Command pdecho is a volume plugin that writes exactly the bytes it is told
// to, for tests of the log router: lines without a final newline, empty
// lines, invalid UTF-8, lines of any length, at start and at any later
// moment (while the daemon is down, say). Its behaviour comes from settable
// env vars (see config.json):
//
//	OUT  a Go-quoted string (strconv.Unquote: "a\nb\xff", `raw`), written
//	     raw to stdout at start, in one write; empty: nothing
//	ERR  the same for stderr, written after OUT
//	BIG  if > 0, one stdout line of BIG bytes ('a' … 'z' repeating) and
//	     its newline, written after ERR, in one write
//
// Then it serves its socket: Plugin.Activate (a VolumeDriver), just enough
// of VolumeDriver for a daemon's first calls, and
//
//	POST /Echo.Write {"Stream": "stdout"|"stderr", "Data": "…", "DataB64": "…"}
//
// which writes Data (or DataB64 decoded, for bytes a JSON string cannot
// carry, such as invalid UTF-8) raw to that stream in one write, and
// answers {"Written": n, "Err": ""} once the write returned. SIGTERM stops
// it with status 0.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/docker/go-plugins-helpers/sdk"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdecho.sock" // must equal config.json's interface.socket

// maxBig bounds BIG, so that a typo cannot exhaust memory.
const maxBig = 64 << 20

// config is what to write at start, from the environment.
type config struct {
	out, err string
	big      int
}

func parseEnv(getenv func(string) string) (config, error) {
	var c config
	var err error
	if c.out, err = unquote("OUT", getenv("OUT")); err != nil {
		return c, err
	}
	if c.err, err = unquote("ERR", getenv("ERR")); err != nil {
		return c, err
	}
	if s := getenv("BIG"); s != "" {
		if c.big, err = strconv.Atoi(s); err != nil || c.big < 0 || c.big > maxBig {
			return c, fmt.Errorf("BIG=%q: want 0 to %d", s, maxBig)
		}
	}
	return c, nil
}

// unquote decodes a Go-quoted env value; "" stays "".
func unquote(name, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return "", fmt.Errorf("%s=%s: want a Go-quoted string such as %q: %v", name, v, `"a\nb\n"`, err)
	}
	return s, nil
}

// bigLine is n bytes of 'a' … 'z' repeating, then a newline.
func bigLine(n int) []byte {
	b := make([]byte, n+1)
	for i := range n {
		b[i] = 'a' + byte(i%26)
	}
	b[n] = '\n'
	return b
}

// writeRequest is the body of /Echo.Write.
type writeRequest struct {
	Stream  string
	Data    string
	DataB64 string
}

// writer writes raw bytes to stdout or stderr, one write per call; a
// stream's writes do not interleave.
type writer struct {
	mu       sync.Mutex
	out, err *os.File
}

func (w *writer) write(stream string, data []byte) (int, error) {
	var f *os.File
	switch stream {
	case "", "stdout":
		f = w.out
	case "stderr":
		f = w.err
	default:
		return 0, fmt.Errorf("stream %q: want stdout or stderr", stream)
	}
	if len(data) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return f.Write(data)
}

func (w *writer) handleWrite(rw http.ResponseWriter, r *http.Request) {
	var req writeRequest
	var n int
	err := json.NewDecoder(r.Body).Decode(&req)
	data := []byte(req.Data)
	if err == nil && req.DataB64 != "" {
		data, err = base64.StdEncoding.DecodeString(req.DataB64)
	}
	if err == nil {
		n, err = w.write(req.Stream, data)
	}
	if err != nil {
		sdk.EncodeResponse(rw, map[string]any{"Written": n, "Err": err.Error()}, true)
		return
	}
	sdk.EncodeResponse(rw, map[string]any{"Written": n, "Err": ""}, false)
}

func main() {
	ctx := plugsock.TermContext()
	cfg, err := parseEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fatal:", err)
		os.Exit(2)
	}
	w := &writer{out: os.Stdout, err: os.Stderr}
	// Before listening: once the socket is there, the daemon counts the
	// plugin as started, and every start output is already written.
	if _, err := w.write("stdout", []byte(cfg.out)); err != nil {
		os.Exit(1)
	}
	if _, err := w.write("stderr", []byte(cfg.err)); err != nil {
		os.Exit(1)
	}
	if cfg.big > 0 {
		if _, err := w.write("stdout", bigLine(cfg.big)); err != nil {
			os.Exit(1)
		}
	}

	l, err := plugsock.Listen(plugsock.Path(socket))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	h := plugsock.VolumeStub()
	h.HandleFunc("/Echo.Write", w.handleWrite)
	if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
