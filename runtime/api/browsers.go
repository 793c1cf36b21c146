package api

import (
	"net/http"
)

// errBrowser is the answer to a request a web page made.
const errBrowser = "plugdbgd's API does not serve browsers: the web UI has its own address (the daemon logs it), or run `plugdbg ui`"

// RefuseBrowsers answers 403 to every request a browser sent on behalf of
// a web page, before next sees it: one with an Origin header (any
// cross-origin request, every websocket, every POST) or a Sec-Fetch-Site
// other than "none" (what a browser sends unless the user typed the URL).
// The API authorises by access to its socket or by client certificate, and
// a browser holds neither: without this, any page could POST to a daemon
// listening on a loopback tcp port, or read from it through DNS rebinding.
// Clients of the API (plugdbg, the docker CLI, `plugdbg ui` relaying the
// web UI with these headers removed) send neither header.
//
// It is the outermost handler of every API listener, the one place this
// rule is kept.
func RefuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, origin := r.Header["Origin"]
		site := r.Header.Get("Sec-Fetch-Site")
		if origin || (site != "" && site != "none") {
			writeJSON(w, http.StatusForbidden, map[string]string{"message": errBrowser})
			return
		}
		next.ServeHTTP(w, r)
	})
}
