// Command pdnosock is a plugin that never creates the socket its config.json
// declares (pdnosock.sock), so tests can check that the runtime times out on
// it and says so. Unless env WRONG_SOCKET is empty, it listens on that path
// instead, to give the runtime's error message a socket the plugin did create
// elsewhere to point at.
package main

import (
	"fmt"
	"os"

	"github.com/docker/go-plugins-helpers/sdk"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

func main() {
	ctx := plugsock.TermContext()
	fmt.Println("pdnosock started")

	// os.LookupEnv rather than a default in code: the runtime passes the
	// default from config.json, and an explicit empty value must disable it.
	wrong, ok := os.LookupEnv("WRONG_SOCKET")
	if !ok {
		wrong = plugsock.Path("wrong.sock")
	}
	if wrong == "" {
		<-ctx.Done()
	} else {
		l, err := plugsock.Listen(wrong)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			os.Exit(1)
		}
		fmt.Printf("pdnosock listening on %s (not on the declared %s)\n", wrong, plugsock.Path("pdnosock.sock"))
		// Answer like a real volume plugin, in case someone dials it anyway.
		h := sdk.NewHandler(`{"Implements": ["VolumeDriver"]}`)
		if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
	}
	fmt.Println("pdnosock: SIGTERM received, exiting")
}
