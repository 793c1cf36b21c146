package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/client"
)

type execOptions struct {
	interactive, tty, toolbox bool
	env                       []string
	user, workdir             string
}

// execExit carries an exec'd process's exit status out as plugdbg's own;
// with no message (a plain non-zero exit) nothing is printed.
type execExit struct {
	code int
	msg  string
}

func (e execExit) Error() string { return e.msg }
func (e execExit) ExitCode() int { return e.code }

func newExecCmd(g *globalOptions) *cobra.Command {
	o := execOptions{}
	c := &cobra.Command{
		Use:   "exec [OPTIONS] PLUGIN COMMAND [ARG...]",
		Short: "Run a command inside a running plugin's container",
		Long: `Run a command in a running plugin's container: its namespaces, cgroup,
capabilities and environment (plus -e). The exit status of the command is
plugdbg's; a command that is not found gives 127.

Most plugins ship only their binary. When COMMAND is not in the plugin's
rootfs, or with --toolbox, it runs from plugdbg's toolbox (a static busybox:
sh, ls, cat, ps, env, mount, df, find, grep, netstat, ...), which sees the
plugin's filesystem, processes and network without writing anything into the
plugin's rootfs and without restarting it.`,
		Example: `  plugdbg exec -it myplugin sh
  plugdbg exec myplugin ls -l /run/docker/plugins
  plugdbg exec myplugin netstat -xl
  echo hi | plugdbg exec -i myplugin cat`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.workdir != "" && !path.IsAbs(o.workdir) {
				// The daemon would refuse it too; say so in the flag's terms.
				return fmt.Errorf("invalid --workdir %q: must be an absolute path in the container", o.workdir)
			}
			cfg := types.ExecConfig{
				Cmd:         args[1:],
				Env:         expandEnv(o.env),
				User:        o.user,
				WorkingDir:  o.workdir,
				Tty:         o.tty,
				AttachStdin: o.interactive,
				Toolbox:     o.toolbox,
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			st, err := cl.ExecAttached(cmd.Context(), args[0], cfg, client.ExecStreams{
				Stdin: os.Stdin, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), Terminal: os.Stdin,
			})
			if err != nil {
				return err
			}
			if st.Error != "" || st.ExitCode != 0 {
				return execExit{code: st.ExitCode, msg: st.Error}
			}
			return nil
		},
	}
	f := c.Flags()
	f.SetInterspersed(false) // flags after PLUGIN belong to COMMAND
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and pass it to the command")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal in the container")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass this shell's value)")
	f.StringVarP(&o.user, "user", "u", "", "run as USER[:GROUP] (names from the plugin's /etc/passwd and /etc/group, or numbers)")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.BoolVar(&o.toolbox, "toolbox", false, "run COMMAND from the toolbox even if the plugin's rootfs has it")
	return c
}

// expandEnv passes KEY=VALUE on and turns a bare KEY into KEY=<value
// here>, dropping it if unset, as docker exec -e does.
func expandEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		} else if v, ok := os.LookupEnv(kv); ok {
			out = append(out, kv+"="+v)
		}
	}
	return out
}
