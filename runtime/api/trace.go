package api

import (
	"encoding/json"
	"net/http"

	"github.com/plugdbg/plugdbg/runtime/trace"
)

// trace streams the calls made to a plugin's socket as JSON lines
// (trace.Record), through a recording proxy that lives as long as the
// request. Errors before the proxy is in place are ordinary error answers.
func (s *Server) trace(w http.ResponseWriter, r *http.Request, name string) {
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	err := s.m.Trace(r.Context(), name, func() {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		if flusher != nil {
			flusher.Flush()
		}
	}, func(rec trace.Record) error {
		if err := enc.Encode(rec); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && w.Header().Get("Content-Type") == "" {
		writeErr(w, err)
	}
}
