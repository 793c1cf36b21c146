package testregistry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
)

// DetailedErrors is a wrap for Start that answers a manifest the registry
// does not have as distribution's registry (registry:2, Docker Hub) does:
// 404 with MANIFEST_UNKNOWN and the tag or digest asked for in the
// error's detail, {"Tag": "1"}, where go-containerregistry's own registry
// gives no detail.
func DetailedErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndex(r.URL.Path, "/manifests/")
		if i < 0 || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code != http.StatusNotFound {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		ref := r.URL.Path[i+len("/manifests/"):]
		key := "Tag"
		if strings.Contains(ref, ":") {
			key = "Digest"
		}
		body, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
			"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": map[string]string{key: ref},
		}}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(body)
	})
}
