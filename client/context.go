package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/plugdbg/plugdbg/format/archive"
	"github.com/plugdbg/plugdbg/format/config"
	"github.com/plugdbg/plugdbg/logs"
)

// CreateFromDir creates plugin name from a plugin directory (config.json
// plus rootfs/), as `docker plugin create` does: the config is checked
// here so that a typo is reported with its file and line before anything
// is sent, then the directory is streamed to the daemon as a tar. logOpts
// (KEY=VALUE, as --log-opt takes them) are checked first and set after.
func (c *Client) CreateFromDir(ctx context.Context, name, dir string, logOpts ...string) error {
	opts, err := logs.SplitOpts(logOpts)
	if err != nil {
		return err
	}
	if _, err := logs.ParseOpts(logs.Limits{}, opts); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("plugin directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("plugin directory %s: not a directory", dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	if _, err := config.Parse(data, cfgPath); err != nil {
		return err
	}
	if err := config.ValidateRootfs(filepath.Join(dir, "rootfs")); err != nil {
		return fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir)) }()
	err = c.Create(ctx, name, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil || len(logOpts) == 0 {
		return err
	}
	if err := c.SetLogOpts(ctx, name, logOpts); err != nil {
		return fmt.Errorf("plugin %s created, but its log opts were not set: %w", name, err)
	}
	return nil
}

// writeTar writes config.json and rootfs/ of dir as a tar stream.
func writeTar(w io.Writer, dir string) error {
	p := archive.NewPacker(w)
	for _, top := range []string{"config.json", "rootfs"} {
		if err := p.Add(dir, top); err != nil {
			return err
		}
	}
	return p.Close()
}
