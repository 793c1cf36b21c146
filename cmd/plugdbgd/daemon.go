package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/daemon"
	"github.com/plugdbg/plugdbg/runtime/discovery"
	"github.com/plugdbg/plugdbg/runtime/distribution"
	"github.com/plugdbg/plugdbg/runtime/dockerd"
	"github.com/plugdbg/plugdbg/version"
	"github.com/plugdbg/plugdbg/webui"
)

// newRootCmd is the daemon's command line: its flags at the top level, as
// dockerd's, and a version subcommand beside --version.
func newRootCmd() *cobra.Command {
	opts := daemon.Options{}
	var logReserve, logMaxSize string
	c := &cobra.Command{
		Use:   "plugdbgd [flags]",
		Short: "Run the plugin runtime (as root)",
		Long: `plugdbgd is the plugin runtime. Enabled plugins run as containers, each under
a small monitor process, so they keep serving when the daemon stops or is
killed; a restarted daemon reattaches to them. The plugdbg client talks to
it on its socket (-H), as does the docker CLI.`,
		Version:       version.Version,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.LogReserve, err = parseSize("log-reserve", logReserve, 0, "a size such as 32m, or 0 for none"); err != nil {
				return err
			}
			if opts.LogMaxSize, err = parseSize("log-max-size", logMaxSize, 1, "a size such as 10m, or a number of bytes"); err != nil {
				return err
			}
			// docker's rule: the default group is used only if it exists,
			// a group given with --group must.
			opts.SocketGroupRequired = cmd.Flags().Changed("group")
			// As dockerd: --tlsverify given at all, even =false, turns TLS on.
			if cmd.Flags().Changed("tlsverify") {
				opts.TLS.Enable = true
			}
			return daemon.Run(cmd.Context(), opts)
		},
	}
	c.CompletionOptions.DisableDefaultCmd = true
	c.SetVersionTemplate("plugdbgd version {{.Version}}, API version " + version.APIVersion + "\n")
	host := os.Getenv("PLUGDBG_HOST")
	if host == "" {
		host = types.DefaultHost
	}
	f := c.Flags()
	f.StringArrayVarP(&opts.Hosts, "host", "H", []string{host}, "address to serve the API on, unix:///path or tcp://host[:port] (repeatable; default env PLUGDBG_HOST); tcp off the loopback interface needs --tlsverify")
	certPath := func(name string) string {
		if dir := os.Getenv("PLUGDBG_CERT_PATH"); dir != "" {
			return filepath.Join(dir, name)
		}
		return ""
	}
	f.BoolVar(&opts.TLS.Enable, "tls", false, "serve tcp listeners over TLS (--tlscert, --tlskey), without client authentication: loopback addresses only; implied by --tlsverify")
	f.BoolVar(&opts.TLS.Verify, "tlsverify", false, "serve tcp listeners over TLS and require client certificates signed by --tlscacert")
	f.StringVar(&opts.TLS.CACert, "tlscacert", certPath("ca.pem"), "trust client certificates signed only by this CA (default $PLUGDBG_CERT_PATH/ca.pem)")
	f.StringVar(&opts.TLS.Cert, "tlscert", certPath("cert.pem"), "the daemon's TLS certificate (default $PLUGDBG_CERT_PATH/cert.pem)")
	f.StringVar(&opts.TLS.Key, "tlskey", certPath("key.pem"), "the daemon's TLS key, unencrypted (default $PLUGDBG_CERT_PATH/key.pem)")
	f.StringVarP(&opts.SocketGroup, "group", "G", daemon.DefaultSocketGroup, "group (name or gid) that may use the unix sockets of -H, mode 0660; the default only if it exists (\"\": root alone)")
	f.StringVar(&opts.DataRoot, "data-root", daemon.DefaultDataRoot, "where plugins and their logs are stored")
	f.StringVar(&opts.ExecRoot, "exec-root", daemon.DefaultExecRoot, "where plugin sockets and runtime state live")
	f.StringVar(&opts.LogLevel, "log-level", "info", "daemon log level (debug, info, warn, error)")
	f.StringVar(&logMaxSize, "log-max-size", "10m", "rotate a plugin's output history at this size per file (10m, 1g, or bytes)")
	f.IntVar(&opts.LogMaxFiles, "log-max-files", 5, "output history files kept per plugin, the current one included")
	f.StringVar(&logReserve, "log-reserve", daemon.DefaultLogReserve, "free space of the data root's filesystem that plugin logs never take, kept for the daemon's state (0: none)")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the daemon to this file (for diagnosing plugdbg itself)")
	_ = f.MarkHidden("cpuprofile")
	f.StringArrayVar(&opts.InsecureRegistries, "insecure-registry", nil, "registry (host[:port]) to reach over plain HTTP, or HTTPS without certificate checks (repeatable); logins are checked with it too")
	f.DurationVar(&opts.RegistryTimeout, "registry-timeout", distribution.DefaultTimeout, "give up on a registry after this long without progress in one step (connect, TLS handshake, upload, response headers, body data); a transfer that keeps moving is never cut off")
	f.StringVar(&opts.UIAddr, "ui-addr", webui.DefaultAddr, "serve the web UI on this host:port (\"\" disables it); the daemon logs its URL with the access token")
	f.StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics on this host:port, such as 127.0.0.1:9323 (off by default; a non-loopback address is served without authentication)")
	f.DurationVar(&opts.StopGrace, "stop-grace", 0, "time between SIGTERM and SIGKILL on disable (default 10s)")
	f.BoolVar(&opts.ObserveAll, "observe-all", false, "observe every plugin of plugdbg's own (count and time its calls), not only those set with plugdbg observe; dockerd's plugins (docker:NAME) only when set")
	f.StringVar(&opts.Docker.Host, "docker-host", dockerd.DefaultHost, "dockerd's API socket, for docker:NAME targets")
	f.StringVar(&opts.Docker.RuncRoot, "docker-runc-root", dockerd.DefaultRuncRoot, "runc root of dockerd's plugins (<dockerd exec-root>/runtime-runc/plugins.moby), for exec and top")
	f.StringVar(&opts.Docker.PluginRoot, "docker-plugin-root", dockerd.DefaultPluginRoot, "dockerd's plugin exec root, where its plugins' sockets are")
	f.StringVar(&opts.Docker.LogFile, "docker-log", "", "dockerd's log file, for logs of docker:NAME (default: the journal of --docker-log-unit)")
	f.StringVar(&opts.Docker.LogUnit, "docker-log-unit", "docker", "systemd unit whose journal holds dockerd's log")
	f.StringVar(&opts.Docker.PluginsDir, "docker-plugins-dir", discovery.DefaultDir, "where plugins are published for dockerd's legacy discovery (<name>.sock links)")
	f.BoolVar(&opts.Docker.PublishAll, "docker-publish-all", false, "publish every enabled plugin for dockerd, not only those set with plugdbg publish")
	c.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Show plugdbgd's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "plugdbgd version %s, API version %s\n", version.Version, version.APIVersion)
		},
	})
	return c
}

// parseSize reads a size flag as docker's --log-opt max-size reads one:
// 10m, 1g, 512k (binary units, go-units' RAMInBytes), or a plain number of
// bytes, as the flags took before. Below minimum is refused with want.
func parseSize(flag, v string, minimum int64, want string) (int64, error) {
	n, err := units.RAMInBytes(v)
	if err != nil || n < minimum {
		return 0, fmt.Errorf("invalid --%s %q: %s", flag, v, want)
	}
	return n, nil
}
