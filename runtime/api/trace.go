package api

import (
	"encoding/json"
	"net/http"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/runtime/tracer"
)

// trace streams the calls made to plugin ref's socket as JSON lines
// (tracer.Record), for as long as the request lasts: read from the
// plugin's recording point when it is observed, else through a recording
// proxy. The first line, sent once every call on the socket is recorded,
// is tracer.StartRecord, as is the line sent once the trace follows a
// restarted plugin's new socket (or its point was removed); errors before
// the first are ordinary error answers.
func (s *Server) trace(w http.ResponseWriter, r *http.Request, b Backend, ref string) {
	st := newTraceStream(w)
	err := b.Trace(r.Context(), ref, func(sock string) { _ = st.started(sock) }, st.send)
	if err != nil && !st.begun {
		writeErr(w, err)
	}
}

// traceStream writes a trace answer: the headers and the start line once
// the calls are recorded, then one line per record, each flushed.
type traceStream struct {
	w       http.ResponseWriter
	flusher http.Flusher
	enc     *json.Encoder
	begun   bool // the headers are out
}

func newTraceStream(w http.ResponseWriter) *traceStream {
	f, _ := w.(http.Flusher)
	return &traceStream{w: w, flusher: f, enc: json.NewEncoder(w)}
}

// started sends the line that tells the client the proxy listens on sock,
// so that it may start calling, after the headers the first time. It comes
// again when the proxy follows a restarted plugin's new socket.
func (t *traceStream) started(sock string) error {
	if !t.begun {
		t.w.Header().Set("Content-Type", "application/x-ndjson")
		t.w.WriteHeader(http.StatusOK)
		t.begun = true
	}
	return t.send(tracer.StartRecord(sock))
}

func (t *traceStream) send(rec types.TraceRecord) error {
	if err := t.enc.Encode(rec); err != nil {
		return err
	}
	if t.flusher != nil {
		t.flusher.Flush()
	}
	return nil
}
