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
