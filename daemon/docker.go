package daemon

import (
	"github.com/plugdbg/plugdbg/runtime/dockerd"
)

// DockerOptions configure the daemon's Docker interop.
type DockerOptions struct {
	Host     string // dockerd's API socket (unix:///path); dockerd.DefaultHost if ""
	RuncRoot string // runc root of dockerd's plugins; dockerd.DefaultRuncRoot if ""
	// PluginRoot is dockerd's plugin exec root (/run/docker/plugins).
	PluginRoot string
	// LogFile is dockerd's log file; "" reads the journal of LogUnit.
	LogFile string
	LogUnit string
	// PluginsDir is where plugins are published for dockerd's legacy
	// discovery; PublishAll publishes every enabled plugin.
	PluginsDir string
	PublishAll bool
}

func (o DockerOptions) host() (*dockerd.Host, error) {
	h := o.Host
	if h == "" {
		h = dockerd.DefaultHost
	}
	c, err := dockerd.NewClient(h)
	if err != nil {
		return nil, err
	}
	return &dockerd.Host{API: c, PluginRoot: o.PluginRoot, RuncRoot: o.RuncRoot, LogFile: o.LogFile, LogUnit: o.LogUnit}, nil
}
