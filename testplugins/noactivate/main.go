// Command pdnoact is a volume plugin without a Plugin.Activate handler: it
// answers that path with 404, as a plain net/http server does. The daemon
// never calls Activate on managed plugins, so a runtime should accept it with
// a warning rather than refuse it.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdnoact.sock" // must equal config.json's interface.socket

// reply writes v as JSON; the daemon treats any 200 reply as success.
func reply(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.1+json")
		json.NewEncoder(w).Encode(v)
	}
}

func main() {
	ctx := plugsock.TermContext()
	path := plugsock.Path(socket)
	l, err := plugsock.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("pdnoact listening on %s, without Plugin.Activate\n", path)

	mux := http.NewServeMux()
	// Just enough of VolumeDriver to show the socket works; everything else,
	// /Plugin.Activate included, gets the mux's "404 page not found".
	mux.Handle("/VolumeDriver.Capabilities", reply(map[string]any{"Capabilities": map[string]string{"Scope": "local"}}))
	mux.Handle("/VolumeDriver.List", reply(map[string]any{"Volumes": []any{}}))
	serve := func(l net.Listener) error { return http.Serve(l, mux) }
	if err := plugsock.Serve(ctx, l, serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("pdnoact: SIGTERM received, exiting")
}
