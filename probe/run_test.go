package probe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/probe/internal/plugintest"
)

type result struct {
	stdout, stderr string
	err            error
}

func run(t *testing.T, o probe.Options) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := probe.Run(context.Background(), o, &out, &errOut)
	return result{out.String(), errOut.String(), err}
}

// errKind names what went wrong by the error's type, as the CLI maps it to
// an exit status: "" for no error, "usage" for an error of no protocol type.
func errKind(err error) string {
	var (
		te *probe.TransportError
		se *probe.StatusError
		pe *probe.PluginError
		ie *probe.InvalidError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return "transport"
	case errors.As(err, &se):
		return "http"
	case errors.As(err, &pe):
		return "plugin"
	case errors.As(err, &ie):
		return "invalid"
	}
	return "usage"
}

func TestRunRoundTrip(t *testing.T) {
	sock, d := plugintest.VolumePlugin(t)

	r := run(t, probe.Options{Socket: sock, Args: []string{"VolumeDriver.Create", "Name=v1", "Opts.size=1G"}})
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, map[string]string{"size": "1G"}, d.Volumes()["v1"])
	assert.Equal(t, "{}\n", r.stdout, "go-plugins-helpers answers {} to a Create")

	r = run(t, probe.Options{Socket: sock, Args: []string{"VolumeDriver.Get", `{"Name":"v1"}`}})
	require.NoError(t, r.err, r.stderr)
	assert.JSONEq(t, `{"Volume":{"Name":"v1","Mountpoint":"/data/v1","Status":{"size":"1G"}}}`, r.stdout)
	assert.Contains(t, r.stdout, "\n  \"Volume\": {\n", "indented")
	assert.Empty(t, r.stderr, "a conforming answer has no warnings")

	r = run(t, probe.Options{Socket: sock, Raw: true, Args: []string{"VolumeDriver.List"}})
	require.NoError(t, r.err)
	assert.Equal(t, `{"Volumes":[{"Name":"v1","Mountpoint":"/data/v1"}]}`+"\n", r.stdout, "--raw prints the bytes as received")

	r = run(t, probe.Options{Socket: sock, Args: []string{"VolumeDriver.Get", "-"}, Stdin: strings.NewReader(`{"Name":"v1"}`)})
	require.NoError(t, r.err)
	body := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(body, []byte(`{"Name":"v1"}`), 0o644))
	r2 := run(t, probe.Options{Socket: sock, Args: []string{"VolumeDriver.Get", "@" + body}})
	require.NoError(t, r2.err)
	assert.Equal(t, r.stdout, r2.stdout, "stdin and @file give the same call")

	r = run(t, probe.Options{URL: "unix://" + sock, Args: []string{"VolumeDriver.Remove", "Name=v1"}})
	require.NoError(t, r.err)
	assert.Empty(t, d.Volumes())
}

func TestRunPluginName(t *testing.T) {
	sock, _ := plugintest.VolumePlugin(t)
	var asked string
	resolve := func(_ context.Context, ref string) (probe.Target, error) {
		asked = ref
		if ref == "myvol" {
			return probe.Target{Network: "unix", Addr: sock}, nil
		}
		return probe.Target{}, fmt.Errorf("plugin %q not found", ref)
	}
	r := run(t, probe.Options{Resolve: resolve, Args: []string{"myvol", "VolumeDriver.Capabilities"}})
	require.NoError(t, r.err)
	assert.Equal(t, "myvol", asked)
	assert.JSONEq(t, `{"Capabilities":{"Scope":"local"}}`, r.stdout)

	r = run(t, probe.Options{Resolve: resolve, Args: []string{"nope", "VolumeDriver.List"}})
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), `plugin "nope" not found`)
}

func TestRunVerbose(t *testing.T) {
	sock, _ := plugintest.VolumePlugin(t)
	r := run(t, probe.Options{Socket: sock, Verbose: true, Args: []string{"VolumeDriver.List"}})
	require.NoError(t, r.err)
	for _, want := range []string{
		"* unix://" + sock + "\n",
		"> POST /VolumeDriver.List HTTP/1.1\n",
		"> Accept: application/vnd.docker.plugins.v1.2+json\n",
		"> Content-Length: 3\n",
		"> Host: plugin.moby.localhost\n",
		"> {}\n",
		"< HTTP/1.1 200 OK\n",
		"< Content-Type: application/vnd.docker.plugins.v1.1+json\n",
		" bytes in ",
	} {
		assert.Contains(t, r.stderr, want)
	}
	assert.NotContains(t, r.stderr, "> Content-Type", "dockerd sends no Content-Type")
}

// TestRunSendsWhatDockerdSends checks the wire: the default bodies ({} or
// none) and the headers.
func TestRunSendsWhatDockerdSends(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantBody string
		wantLen  int64
	}{
		{name: "List sends {}", args: []string{"VolumeDriver.List"}, wantBody: "{}\n", wantLen: 3},
		{name: "network GetCapabilities sends nothing", args: []string{"NetworkDriver.GetCapabilities"}, wantBody: "", wantLen: 0},
		{name: "Activate sends nothing", args: []string{"Plugin.Activate"}, wantBody: "", wantLen: 0},
		{name: "a body is compacted, newline-terminated", args: []string{"VolumeDriver.Get", "{ \"Name\" : \"v1\" }"}, wantBody: "{\"Name\":\"v1\"}\n", wantLen: 14},
		{name: "fields", args: []string{"IpamDriver.RequestPool", "AddressSpace=local", "V6=true"}, wantBody: "{\"AddressSpace\":\"local\",\"V6\":true}\n", wantLen: 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePlugin(t, reply(http.StatusOK, `{}`))
			r := run(t, probe.Options{Socket: f.socket, Args: tt.args})
			require.NoError(t, r.err, r.stderr)
			reqs := f.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "/"+tt.args[0], reqs[0].Path)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, probe.Accept, reqs[0].Accept)
			assert.False(t, reqs[0].HasContentType)
			assert.Equal(t, tt.wantBody, reqs[0].Body)
			assert.Equal(t, tt.wantLen, reqs[0].ContentLength)
		})
	}
}

func TestRunErrors(t *testing.T) {
	deadSock := filepath.Join(filepath.Dir(plugintest.ShortSocket(t)), "dead.sock")
	// A socket file nobody listens on: connection refused.
	refused := plugintest.ShortSocket(t)
	ln, err := net.Listen("unix", refused)
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	html := newFakePlugin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>It works!</body></html>")
	})
	html404 := newFakePlugin(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><body>Not Found</body></html>")
	})
	errAnswer := newFakePlugin(t, reply(http.StatusOK, `{"Err":"disk on fire"}`))
	ipamErr := newFakePlugin(t, reply(http.StatusOK, `{"Error":"pool exhausted"}`))
	err500 := newFakePlugin(t, reply(http.StatusInternalServerError, `{"Err":"no such volume: v9"}`))
	badMount := newFakePlugin(t, reply(http.StatusOK, `{"Mountpoint":"data/v1"}`))
	ok := newFakePlugin(t, reply(http.StatusOK, `{}`))
	volSock, _ := plugintest.VolumePlugin(t)
	noResolve := func(context.Context, string) (probe.Target, error) {
		return probe.Target{}, errors.New("resolved a method as a plugin")
	}

	tests := []struct {
		name     string
		o        probe.Options
		wantKind string
		wantErr  []string
		wantOut  string // in stdout
		wantWarn string // in stderr
	}{
		{
			name: "unknown method", o: probe.Options{Socket: ok.socket, Args: []string{"VolumeDriver.Mnt"}},
			wantKind: "usage", wantErr: []string{`unknown method "VolumeDriver.Mnt"`},
		},
		{
			name: "wrong case gets a suggestion", o: probe.Options{Socket: ok.socket, Args: []string{"volumedriver.list"}},
			wantKind: "usage", wantErr: []string{"did you mean VolumeDriver.List?"},
		},
		{
			name: "typo gets a suggestion", o: probe.Options{Socket: ok.socket, Args: []string{"VolumeDriver.Lst"}},
			wantKind: "usage", wantErr: []string{`unknown method "VolumeDriver.Lst"; did you mean VolumeDriver.List?`},
		},
		{
			name: "typo in another case", o: probe.Options{Socket: ok.socket, Args: []string{"ipamdriver.requestpol"}},
			wantKind: "usage", wantErr: []string{"did you mean IpamDriver.RequestPool?"},
		},
		{
			name: "method where the plugin belongs", o: probe.Options{Resolve: noResolve, Args: []string{"VolumeDriver.List"}},
			wantKind: "usage", wantErr: []string{"no plugin given: VolumeDriver.List is a method"},
		},
		{
			name: "misspelt method where the plugin belongs", o: probe.Options{Resolve: noResolve, Args: []string{"VolumeDriver.Lst", "x"}},
			wantKind: "usage", wantErr: []string{"no plugin given"},
		},
		{
			name: "interface the plugin does not implement", o: probe.Options{Socket: volSock, Args: []string{"NetworkDriver.GetCapabilities"}},
			wantKind: "http", wantErr: []string{
				"NetworkDriver.GetCapabilities: HTTP 404",
				"unix://" + volSock + " does not implement NetworkDriver (it implements VolumeDriver)",
				"see plugdbg probe --socket " + volSock + " --list",
			},
		},
		{
			name: "invalid JSON body", o: probe.Options{Socket: ok.socket, Args: []string{"VolumeDriver.Get", "{Name: v1}"}},
			wantKind: "usage", wantErr: []string{"request body is not valid JSON"},
		},
		{
			name: "unknown field", o: probe.Options{Socket: ok.socket, Args: []string{"VolumeDriver.Create", "Nmae=v1"}},
			wantKind: "usage", wantErr: []string{`no field "Nmae"`, "fields: Name, Opts"},
		},
		{
			name: "dead socket", o: probe.Options{Socket: deadSock, Args: []string{"VolumeDriver.List"}},
			wantKind: "transport", wantErr: []string{"VolumeDriver.List", "no such file or directory"},
		},
		{
			name: "refused", o: probe.Options{Socket: refused, Args: []string{"VolumeDriver.List"}},
			wantKind: "transport", wantErr: []string{"connection refused"},
		},
		{
			name: "HTML answer", o: probe.Options{Socket: html.socket, Args: []string{"VolumeDriver.List"}},
			wantKind: "invalid", wantErr: []string{"not JSON", `"text/html"`, "It works!"},
		},
		{
			name: "HTML 404", o: probe.Options{Socket: html404.socket, Args: []string{"VolumeDriver.List"}},
			wantKind: "http", wantErr: []string{"HTTP 404", "Not Found"},
		},
		{
			name: "HTTP 500 with Err", o: probe.Options{Socket: err500.socket, Args: []string{"VolumeDriver.Get", "Name=v9"}},
			wantKind: "http", wantErr: []string{"no such volume: v9", "HTTP 500"}, wantOut: `"Err": "no such volume: v9"`,
		},
		{
			name: "200 with Err", o: probe.Options{Socket: errAnswer.socket, Args: []string{"VolumeDriver.Create", "Name=v1"}},
			wantKind: "plugin", wantErr: []string{"disk on fire"},
		},
		{
			name: "IPAM 200 with Error", o: probe.Options{Socket: ipamErr.socket, Args: []string{"IpamDriver.ReleasePool", "PoolID=p"}},
			wantKind: "plugin", wantErr: []string{"pool exhausted"},
		},
		{
			name: "schema problem is a warning", o: probe.Options{Socket: badMount.socket, Args: []string{"VolumeDriver.Mount", "Name=v1", "ID=x"}},
			wantKind: "", wantWarn: `warning: Mountpoint: "data/v1" is not an absolute path`,
		},
		{
			name: "--strict makes it an error", o: probe.Options{Socket: badMount.socket, Strict: true, Args: []string{"VolumeDriver.Mount", "Name=v1", "ID=x"}},
			wantKind: "invalid", wantErr: []string{"not an absolute path"}, wantWarn: "error: Mountpoint:",
		},
		{
			name: "two targets", o: probe.Options{Socket: ok.socket, URL: "tcp://127.0.0.1:1", Args: []string{"VolumeDriver.List"}},
			wantKind: "usage", wantErr: []string{"only one of"},
		},
		{
			name: "no target", o: probe.Options{},
			wantKind: "usage", wantErr: []string{"no plugin given"},
		},
		{
			name: "fields for a method without a body", o: probe.Options{Socket: ok.socket, Args: []string{"Plugin.Activate", "X=1"}},
			wantKind: "usage", wantErr: []string{"takes no request body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.o)
			assert.Equal(t, tt.wantKind, errKind(r.err), "err: %v", r.err)
			if len(tt.wantErr) > 0 {
				require.Error(t, r.err)
			}
			for _, s := range tt.wantErr {
				assert.Contains(t, r.err.Error(), s)
			}
			assert.Contains(t, r.stdout, tt.wantOut)
			assert.Contains(t, r.stderr, tt.wantWarn)
		})
	}
}

func TestRunNotImplementedNamesThePlugin(t *testing.T) {
	sock, _ := plugintest.VolumePlugin(t)
	resolve := func(_ context.Context, ref string) (probe.Target, error) {
		require.Equal(t, "vol", ref)
		return probe.Target{Network: "unix", Addr: sock}, nil
	}
	r := run(t, probe.Options{Resolve: resolve, Args: []string{"vol", "NetworkDriver.CreateNetwork", "NetworkID=n1"}})
	require.Error(t, r.err)
	assert.Equal(t, "http", errKind(r.err), "still an HTTP error (exit status 3)")
	var ni *probe.NotImplementedError
	require.ErrorAs(t, r.err, &ni)
	assert.Equal(t, []string{"VolumeDriver"}, ni.Implements)
	assert.Contains(t, r.err.Error(), "vol does not implement NetworkDriver (it implements VolumeDriver); see plugdbg probe --list vol")

	// An optional method of an interface it implements: the 404 as it is.
	r = run(t, probe.Options{Resolve: resolve, Args: []string{"vol", "VolumeDriver.Capabilities"}})
	if r.err != nil {
		assert.False(t, errors.As(r.err, &ni), "%v", r.err)
	}
}

// TestRunHugeAnswer uses httptest's TCP server as a stand-in for a plugin
// that streams an endless answer: the client must stop at its limit.
func TestRunHugeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("x"), 1<<16)
		for i := 0; i < 1<<10 && r.Context().Err() == nil; i++ { // up to 64 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	r := run(t, probe.Options{URL: "tcp://" + srv.Listener.Addr().String(), Args: []string{"VolumeDriver.List"}})
	require.Error(t, r.err)
	assert.Equal(t, "transport", errKind(r.err))
	assert.Contains(t, r.err.Error(), "larger than 16777216 bytes")
	assert.Empty(t, r.stdout)
}

func TestRunSpecFiles(t *testing.T) {
	srv := httptest.NewServer(reply(http.StatusOK, `{"Implements":["NetworkDriver"]}`))
	defer srv.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "net.spec")
	require.NoError(t, os.WriteFile(spec, []byte("tcp://"+srv.Listener.Addr().String()+"/ignored/path\n"), 0o644))
	js := filepath.Join(dir, "net.json")
	require.NoError(t, os.WriteFile(js, []byte(`{"Name":"x","Addr":"http://`+srv.Listener.Addr().String()+`"}`), 0o644))
	for _, f := range []string{spec, js} {
		r := run(t, probe.Options{Spec: f, List: true})
		require.NoError(t, r.err, f)
		assert.Contains(t, r.stdout, "Implements: NetworkDriver\n")
		assert.Contains(t, r.stdout, "NetworkDriver.Join")
		assert.NotContains(t, r.stdout, "VolumeDriver.")
	}

	bad := filepath.Join(dir, "bad.spec")
	require.NoError(t, os.WriteFile(bad, []byte("localhost:1234"), 0o644))
	r := run(t, probe.Options{Spec: bad, List: true})
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "unsupported protocol")
}
