package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/probe"
	"github.com/plugdbg/plugdbg/probe/conformance"
)

func TestProbeExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "success", err: nil, want: 0},
		{name: "usage", err: errors.New("no method given"), want: 1},
		{name: "transport", err: &probe.TransportError{Method: "VolumeDriver.List", Err: errors.New("connection refused")}, want: 2},
		{name: "HTTP", err: &probe.StatusError{Method: "VolumeDriver.List", Status: 500, Msg: "boom"}, want: 3},
		{name: "wrapped HTTP", err: fmt.Errorf("list x: %w", &probe.StatusError{Method: "Plugin.Activate", Status: 404}), want: 3},
		{name: "plugin error", err: &probe.PluginError{Method: "VolumeDriver.Create", Msg: "disk on fire"}, want: 4},
		{name: "invalid", err: &probe.InvalidError{Method: "VolumeDriver.List", Problems: []probe.Problem{{Msg: "not JSON"}}}, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, probeExitCode(tt.err))
			err := withProbeExitCode(tt.err)
			if tt.err == nil {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.err.Error(), err.Error(), "the message is the error's own")
			assert.ErrorIs(t, err, tt.err)
			var ec ExitCoder
			if tt.want == 1 {
				assert.False(t, errors.As(err, &ec), "exit status 1 needs no ExitCoder")
				return
			}
			require.ErrorAs(t, err, &ec)
			assert.Equal(t, tt.want, ec.ExitCode())
		})
	}
}

// TestProbeCommandExitCodes runs the probe and check verbs against real
// sockets and reads their exit status as Execute does (ExitCoder, else 1).
func TestProbeCommandExitCodes(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdx")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	serve := func(name string, h http.HandlerFunc) string {
		sock := filepath.Join(dir, name)
		ln, err := net.Listen("unix", sock)
		require.NoError(t, err)
		srv := &http.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
		return sock
	}
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	ok := serve("ok.sock", answer(http.StatusOK, `{"Volumes":[],"Err":""}`))
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "success", args: []string{"probe", "--socket", ok, "VolumeDriver.List"}, want: 0},
		{name: "usage", args: []string{"probe", "--socket", ok, "VolumeDriver.Nope"}, want: 1},
		{name: "transport", args: []string{"probe", "--socket", filepath.Join(dir, "none.sock"), "VolumeDriver.List"}, want: 2},
		{name: "HTTP", args: []string{"probe", "--socket", serve("500.sock", answer(http.StatusInternalServerError, `{"Err":"boom"}`)), "VolumeDriver.List"}, want: 3},
		{name: "plugin error", args: []string{"probe", "--socket", serve("err.sock", answer(http.StatusOK, `{"Err":"boom"}`)), "VolumeDriver.List"}, want: 4},
		{name: "not JSON", args: []string{"probe", "--socket", serve("html.sock", answer(http.StatusOK, `<html>`)), "VolumeDriver.List"}, want: 5},
		{name: "check fails", args: []string{"check", "--socket", ok, "--interface", "VolumeDriver"}, want: 1},
		{name: "check without a plugin", args: []string{"check", "--socket", filepath.Join(dir, "none.sock")}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &globalOptions{host: "unix://" + filepath.Join(dir, "no-daemon.sock")}
			verb := map[string]func(*globalOptions) *cobra.Command{"probe": newProbeCmd, "check": newCheckCmd}[tt.args[0]]
			c := verb(g)
			c.SetArgs(tt.args[1:])
			var out bytes.Buffer
			c.SetOut(&out)
			c.SetErr(&out)
			c.SilenceUsage, c.SilenceErrors = true, true
			err := c.ExecuteContext(context.Background())
			code := 0
			if err != nil {
				code = 1
				var ec ExitCoder
				if errors.As(err, &ec) {
					code = ec.ExitCode()
				}
			}
			assert.Equal(t, tt.want, code, "err: %v\n%s", err, out.String())
		})
	}
}

// TestCheckVerdictIsNotAnError: a check whose suite failed exits 1 with its
// summary printed as it is, not as "Error: …"; other errors keep theirs.
func TestCheckVerdictIsNotAnError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantOut  string
	}{
		{
			name: "failed", err: &conformance.Failed{Target: "unix:///x.sock", Fail: 2, Warn: 1},
			wantCode: 1, wantOut: "unix:///x.sock: 2 failed, 1 with warnings\n",
		},
		{
			name: "warnings under --strict", err: &conformance.Failed{Target: "unix:///x.sock", Warn: 3, Strict: true},
			wantCode: 1, wantOut: "unix:///x.sock: 0 failed, 3 with warnings (--strict)\n",
		},
		{name: "other error", err: errors.New("no such plugin"), wantCode: 1, wantOut: "Error: no such plugin\n"},
		{name: "passed", err: nil, wantCode: 0, wantOut: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			root := &cobra.Command{Use: "plugdbg", SilenceUsage: true, SilenceErrors: true}
			root.AddCommand(&cobra.Command{Use: "check", RunE: func(cmd *cobra.Command, _ []string) error {
				return checkExit(tt.err, cmd.ErrOrStderr())
			}})
			root.SetErr(&stderr)
			root.SetArgs([]string{"check"})
			code := run(context.Background(), root, &stderr)
			assert.Equal(t, tt.wantCode, code)
			assert.Equal(t, tt.wantOut, stderr.String())
		})
	}
}

// TestProbeWithoutPluginShowsUsage: a method where the plugin belongs is
// "no plugin given", with the usage line, and the daemon is not asked.
func TestProbeWithoutPluginShowsUsage(t *testing.T) {
	g := &globalOptions{host: "unix:///nonexistent/plugdbg.sock"}
	root := &cobra.Command{Use: "plugdbg", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newProbeCmd(g), newCheckCmd(g))
	for _, args := range [][]string{{"probe", "VolumeDriver.List"}, {"check", "VolumeDriver.List"}} {
		var stderr bytes.Buffer
		root.SetErr(&stderr)
		root.SetArgs(args)
		code := run(context.Background(), root, &stderr)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr.String(), "Error: no plugin given: VolumeDriver.List is a method")
		assert.Contains(t, stderr.String(), "\n\nUsage:  plugdbg "+args[0]+" ")
		assert.Contains(t, stderr.String(), "See 'plugdbg "+args[0]+" --help'")
		assert.NotContains(t, stderr.String(), "nonexistent", "the daemon is not asked")
	}
}
