// Command pdmis is a plugin whose Plugin.Activate answer disagrees with its
// config.json: it claims NetworkDriver while the config declares
// docker.volumedriver/1.0. It exists to test the runtime's Implements check.
package main

import (
	"fmt"
	"os"

	"github.com/docker/go-plugins-helpers/sdk"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdmis.sock" // must equal config.json's interface.socket

func main() {
	ctx := plugsock.TermContext()
	path := plugsock.Path(socket)
	l, err := plugsock.Listen(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("pdmis listening on %s, claiming NetworkDriver\n", path)
	h := sdk.NewHandler(`{"Implements": ["NetworkDriver"]}`)
	if err := plugsock.Serve(ctx, l, h.Serve); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("pdmis: SIGTERM received, exiting")
}
