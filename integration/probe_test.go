package integration

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probePlugins starts a daemon with every protocol test plugin enabled:
// vol (pdvol), net (pdnet), ipam (pdipam), authz (pdauthz), bad (pdbadvol),
// and one disabled plugin, off (pdvol).
func probePlugins(t *testing.T) *daemon {
	d := startDaemon(t)
	for name, kind := range map[string]string{"vol": "volume", "net": "network", "ipam": "ipam", "authz": "authz", "bad": "badvol"} {
		d.create(t, name, kind)
		d.enable(t, name)
	}
	d.create(t, "off", "volume")
	return d
}

// TestProbe makes round trips with plugdbg probe to every test plugin run
// by a real daemon, and checks the exit statuses of failures.
func TestProbe(t *testing.T) {
	d := probePlugins(t)
	sock := d.inspect(t, "vol").State.Socket
	require.NotEmpty(t, sock)

	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  []string // substrings of stderr
		noErr    bool     // stderr must be empty
	}{
		{
			name: "volume Create with fields", args: []string{"probe", "vol", "VolumeDriver.Create", "Name=v1", "Opts.size=1G"},
			wantOut: []string{"{}\n"}, noErr: true,
		},
		{
			name: "volume Get", args: []string{"probe", "vol:latest", "VolumeDriver.Get", `{"Name":"v1"}`},
			wantOut: []string{`"Name": "v1"`, `"Mountpoint": "/data/v1"`}, noErr: true,
		},
		{
			name: "volume List by socket", args: []string{"probe", "--socket", sock, "VolumeDriver.List"},
			wantOut: []string{`"Volumes": [`, `"Name": "v1"`}, noErr: true,
		},
		{
			name: "volume Mount -v", args: []string{"probe", "-v", "vol", "VolumeDriver.Mount", "Name=v1", "ID=abc"},
			wantOut: []string{`"Mountpoint": "/data/v1"`},
			wantErr: []string{"> POST /VolumeDriver.Mount HTTP/1.1", "> Accept: application/vnd.docker.plugins.v1.2+json", "< HTTP/1.1 200 OK", " bytes in "},
		},
		{
			name: "volume Unmount from stdin", args: []string{"probe", "--url", "unix://" + sock, "VolumeDriver.Unmount", "-"},
			stdin: `{"Name":"v1","ID":"abc"}`, wantOut: []string{"{}"}, noErr: true,
		},
		{
			name: "volume --list", args: []string{"probe", "vol", "--list"},
			wantOut: []string{"Implements: VolumeDriver\n", "VolumeDriver.Mount"}, noErr: true,
		},
		{
			name: "volume Get of a missing volume: HTTP 500", args: []string{"probe", "vol", "VolumeDriver.Get", "Name=nope"},
			wantCode: 3, wantOut: []string{`"Err": "no such volume: nope"`}, wantErr: []string{"no such volume: nope (HTTP 500)"},
		},
		{
			name: "network GetCapabilities", args: []string{"probe", "net", "NetworkDriver.GetCapabilities"},
			wantOut: []string{`"Scope": "local"`}, noErr: true,
		},
		{
			name: "network --list", args: []string{"probe", "net", "--list"},
			wantOut: []string{"Implements: NetworkDriver\n", "NetworkDriver.Join"}, noErr: true,
		},
		{
			name: "network DeleteNetwork of a missing network", args: []string{"probe", "net", "NetworkDriver.DeleteNetwork", "NetworkID=n0"},
			wantCode: 3, wantErr: []string{"no such network: n0"},
		},
		{
			name: "IPAM RequestPool", args: []string{"probe", "ipam", "IpamDriver.RequestPool", "AddressSpace=pdlocal", "Pool=10.99.0.0/24"},
			wantOut: []string{`"PoolID": "pdlocal/10.99.0.0/24"`, `"com.docker.network.gateway": "10.99.0.1/24"`}, noErr: true,
		},
		{
			name: "IPAM RequestAddress", args: []string{"probe", "ipam", "IpamDriver.RequestAddress", "PoolID=pdlocal/10.99.0.0/24"},
			wantOut: []string{`"Address": "10.99.0.2/24"`}, noErr: true,
		},
		{
			name: "authz allows", args: []string{"probe", "authz", "AuthZPlugin.AuthZReq", "RequestMethod=GET", "RequestUri=/v1.47/info"},
			wantOut: []string{`"Allow": true`}, noErr: true,
		},
		{
			name: "authz denies", args: []string{"probe", "authz", "AuthZPlugin.AuthZReq", "RequestMethod=DELETE", "RequestUri=/v1.47/volumes/v1"},
			wantOut: []string{`"Allow": false`, "pdauthz: DELETE /v1.47/volumes/v1 is denied"}, noErr: true,
		},
		{
			name: "non-conforming answer: warning", args: []string{"probe", "bad", "VolumeDriver.Capabilities"},
			wantOut: []string{`"Scope": "cluster"`}, wantErr: []string{`warning: Capabilities.Scope: "cluster" is not one of "local", "global"`},
		},
		{
			name: "non-conforming answer: --strict", args: []string{"probe", "--strict", "bad", "VolumeDriver.Mount", "Name=x", "ID=y"},
			wantCode: 5, wantErr: []string{`error: Mountpoint: "volumes/x" is not an absolute path`},
		},
		{
			name: "unknown method", args: []string{"probe", "vol", "VolumeDriver.Mnt"},
			wantCode: 1, wantErr: []string{`unknown method "VolumeDriver.Mnt"`},
		},
		{
			name: "invalid JSON body", args: []string{"probe", "vol", "VolumeDriver.Get", "{Name:"},
			wantCode: 1, wantErr: []string{"request body is not valid JSON"},
		},
		{
			name: "disabled plugin", args: []string{"probe", "off", "VolumeDriver.List"},
			wantCode: 1, wantErr: []string{"plugin off:latest is not enabled"},
		},
		{
			name: "unknown plugin", args: []string{"probe", "nosuch", "VolumeDriver.List"},
			wantCode: 1, wantErr: []string{"nosuch"},
		},
		{
			name: "dead socket", args: []string{"probe", "--socket", filepath.Join(filepath.Dir(sock), "gone.sock"), "VolumeDriver.List"},
			wantCode: 2, wantErr: []string{"VolumeDriver.List: dial unix", "no such file or directory"},
		},
		{
			name: "describe", args: []string{"probe", "--describe", "IpamDriver.RequestAddress"},
			wantOut: []string{"Request: POST /IpamDriver.RequestAddress", "RequestAddressType=com.docker.network.gateway", "Response (HTTP 200; errors as HTTP 500 with {\"Err\": ...}, or Error on a 200)"}, noErr: true,
		},
		{
			name: "repeat", args: []string{"probe", "vol", "VolumeDriver.List", "--repeat", "200", "--concurrency", "4"},
			wantOut: []string{"VolumeDriver.List: 200 calls in ", "0 failed\n", "latency: min "}, noErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := d.cliIn(t, tt.stdin, tt.args...)
			assert.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			for _, s := range tt.wantOut {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tt.wantErr {
				assert.Contains(t, stderr, s)
			}
			if tt.noErr {
				assert.Empty(t, stderr)
			}
		})
	}
}

// TestCheck runs plugdbg check on every protocol test plugin: the
// conforming ones pass, the non-conforming one fails for its reasons.
func TestCheck(t *testing.T) {
	d := probePlugins(t)

	for _, name := range []string{"vol", "net", "ipam", "authz"} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := d.cli(t, "check", name)
			assert.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Regexp(t, `\n\d+ passed, 0 failed, 0 warnings, \d+ skipped\n$`, stdout)
			assert.NotContains(t, stdout, "FAIL")
		})
	}

	t.Run("check cleans up", func(t *testing.T) {
		stdout, _, code := d.cli(t, "probe", "vol", "VolumeDriver.List")
		require.Equal(t, 0, code)
		assert.NotContains(t, stdout, "plugdbg-check")
	})

	t.Run("non-conforming", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "bad.xml")
		stdout, stderr, code := d.cli(t, "check", "bad", "--junit", junit)
		assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
		for _, re := range []string{
			`(?m)^  FAIL +Get of a missing volume +VolumeDriver\.Get .*must answer Err`,
			`(?m)^  FAIL +Get after Remove +VolumeDriver\.Get .*must answer Err`,
			`(?m)^  FAIL +List +VolumeDriver\.List .*does not list "plugdbg-check-`,
			`(?m)^  WARN +Mount +VolumeDriver\.Mount .*Mountpoint: "volumes/plugdbg-check-[0-9a-f]+" is not an absolute path`,
			`(?m)^  WARN +Capabilities +VolumeDriver\.Capabilities .*"cluster" is not one of`,
			`(?m)^  FAIL +Get +VolumeDriver\.Get .*Volume\.CreatedAt: "yesterday" is not an RFC 3339 time|(?m)^  WARN +Get +VolumeDriver\.Get .*"yesterday" is not an RFC 3339 time`,
			`(?m)^  WARN +Remove of a missing volume +VolumeDriver\.Remove +.*succeeded for a volume that does not exist`,
			`(?m)^  PASS +Create +VolumeDriver\.Create`,
		} {
			assert.Regexp(t, regexp.MustCompile(re), stdout)
		}
		assert.Contains(t, stderr, "failed")

		data, err := os.ReadFile(junit)
		require.NoError(t, err)
		var suites struct {
			Failures int `xml:"failures,attr"`
		}
		require.NoError(t, xml.Unmarshal(data, &suites))
		assert.Positive(t, suites.Failures)
	})

	t.Run("json", func(t *testing.T) {
		stdout, _, code := d.cli(t, "check", "--json", "ipam")
		require.Equal(t, 0, code)
		var rep struct {
			Implements []string
			Results    []struct{ Method, Status string }
			Fail       int
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, []string{"IpamDriver"}, rep.Implements)
		var methods []string
		for _, r := range rep.Results {
			methods = append(methods, r.Method)
			assert.Equal(t, "pass", r.Status, r.Method)
		}
		assert.Contains(t, strings.Join(methods, " "), "IpamDriver.RequestPool IpamDriver.RequestAddress IpamDriver.RequestAddress IpamDriver.ReleaseAddress")
	})
}

// cliIn runs the plugdbg binary against the daemon with stdin as its
// standard input.
func (d *daemon) cliIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugdbgBin, args...)
	cmd.Env = append(os.Environ(), "PLUGDBG_HOST="+d.host)
	cmd.Stdin = strings.NewReader(stdin)
	return runCommand(t, cmd)
}
