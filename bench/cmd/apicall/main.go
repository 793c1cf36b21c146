// Command apicall is the API-call half of bench/lifecycle.sh: one step of a
// plugin's lifecycle (create, enable, disable or rm) sent as the Docker
// Engine API request the docker CLI sends for it, to whichever daemon
// listens on -socket (plugdbgd and dockerd take the same requests), on a
// connection of its own, as a CLI process has. It prints the microseconds
// from the dial to the answer's last byte: what the daemon takes for the
// step, without a CLI's start. The script runs it where it runs the CLI's
// step, so both figures come from the same pace of requests.
//
// A step that is not answered 2xx ends it with status 1 and the daemon's
// answer on stderr.
//
//	apicall -socket /tmp/pdb.x/pd.sock -step create -name bench1 -dir build/plugins/volume
//	apicall -socket /tmp/pdb.x/pd.sock -step enable -name bench1
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/plugdbg/plugdbg/format/archive"
)

// apiVersion is the newest dockerd 20.10 speaks, which the docker CLI
// negotiates with it; plugdbgd takes any version prefix.
const apiVersion = "v1.41"

// maxAnswer bounds what is read of an answer: these steps answer with an
// empty body or a short error.
const maxAnswer = 1 << 20

func main() {
	socket := flag.String("socket", "", "the daemon's unix socket")
	step := flag.String("step", "", "create, enable, disable or rm")
	name := flag.String("name", "", "the plugin's name")
	dir := flag.String("dir", "", "create: the plugin's directory (config.json and rootfs/), sent as the build context")
	timeout := flag.Duration("timeout", 60*time.Second, "bound for the step")
	flag.Parse()
	if *socket == "" || *step == "" || *name == "" || *step == "create" && *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: apicall -socket PATH -step create|enable|disable|rm -name NAME [-dir PLUGIN_DIR]")
		os.Exit(2)
	}
	method, path, body, err := stepRequest(*step, *name, *dir)
	if err != nil {
		fail("%v", err)
	}
	took, err := caller{socket: *socket, timeout: *timeout}.call(method, path, body)
	if err != nil {
		fail("%s %s: %v", *step, *name, err)
	}
	fmt.Println(took.Microseconds())
}

// stepRequest returns the request the docker CLI sends for step on plugin
// name: its method, its path below the API version, and for create the
// build context, dir packed as a tar.
func stepRequest(step, name, dir string) (method, path string, body []byte, err error) {
	q := url.PathEscape(name)
	switch step {
	case "create":
		// The context is packed before the clock starts: the same bytes go
		// to either daemon, and the figure is their upload and what the
		// daemon does with them.
		var buildContext bytes.Buffer
		p := archive.NewPacker(&buildContext)
		if err := p.Add(dir, "."); err != nil {
			return "", "", nil, fmt.Errorf("pack %s: %w", dir, err)
		}
		if err := p.Close(); err != nil {
			return "", "", nil, fmt.Errorf("pack %s: %w", dir, err)
		}
		return http.MethodPost, "/plugins/create?name=" + url.QueryEscape(name), buildContext.Bytes(), nil
	case "enable":
		return http.MethodPost, "/plugins/" + q + "/enable?timeout=30", nil, nil // the docker CLI's default --timeout
	case "disable":
		return http.MethodPost, "/plugins/" + q + "/disable", nil, nil // force only when set, as the CLI
	case "rm":
		return http.MethodDelete, "/plugins/" + q, nil, nil
	}
	return "", "", nil, fmt.Errorf("unknown -step %q: want create, enable, disable or rm", step)
}

type caller struct {
	socket  string
	timeout time.Duration
}

// call sends one request on a fresh connection and returns how long it took
// from the dial to the answer's last byte.
func (c caller) call(method, path string, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", c.socket)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://docker/"+apiVersion+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-tar")
	}
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(answer))
	}
	return took, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apicall: "+format+"\n", args...)
	os.Exit(1)
}
