// Command pdauthz is an authorization plugin used by plugdbg's tests. It
// allows every request and answer except requests whose "METHOD URI"
// matches the regular expression in $DENY.
package main

import (
	"fmt"
	"os"
	"regexp"

	"github.com/docker/go-plugins-helpers/authorization"

	"github.com/plugdbg/plugdbg/testplugins/internal/plugsock"
)

const socket = "pdauthz.sock" // must equal config.json's interface.socket

type plugin struct {
	deny *regexp.Regexp // nil: allow everything
}

func (p *plugin) AuthZReq(r authorization.Request) authorization.Response {
	if r.RequestMethod == "" || r.RequestURI == "" {
		return authorization.Response{Err: "request without RequestMethod or RequestUri"}
	}
	line := r.RequestMethod + " " + r.RequestURI
	if p.deny != nil && p.deny.MatchString(line) {
		return authorization.Response{Allow: false, Msg: fmt.Sprintf("pdauthz: %s is denied (DENY=%s)", line, p.deny)}
	}
	return authorization.Response{Allow: true}
}

func (p *plugin) AuthZRes(r authorization.Request) authorization.Response {
	if r.RequestMethod == "" || r.RequestURI == "" {
		return authorization.Response{Err: "request without RequestMethod or RequestUri"}
	}
	return authorization.Response{Allow: true}
}

func main() {
	ctx := plugsock.TermContext()
	p := &plugin{}
	if s := os.Getenv("DENY"); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "DENY:", err)
			os.Exit(1)
		}
		p.deny = re
	}
	plugsock.Run(ctx, "pdauthz", socket, authorization.NewHandler(p).Serve)
}
