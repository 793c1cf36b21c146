package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDockerForms: the docker forms of --format, events' filters and
// --until, stats of every enabled plugin and top's ps options, with the
// docker CLI beside plugdbg where it has the command.
func TestDockerForms(t *testing.T) {
	d := startDaemon(t)
	begin := time.Now()
	vol := d.create(t, "vol", "volume")
	d.create(t, "crash", "crasher")
	vol = d.enable(t, "vol")
	web := d.create(t, "web", "volume")
	web = d.enable(t, "web")

	t.Run("inspect --format with JSON field names", func(t *testing.T) {
		assert.Equal(t, vol.ID+"\n", d.ok(t, "inspect", "--format", "{{.Id}}", "vol"))
		assert.Equal(t, vol.ID+" running pdvol.sock\n", d.ok(t, "inspect", "-f", "{{.Id}} {{.State.Status}} {{.Config.Interface.Socket}}", "vol"))
		out := d.ok(t, "inspect", "--format", "json", "vol", "web")
		var all []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &all), out)
		require.Len(t, all, 2)
		assert.Equal(t, vol.ID, all[0]["Id"])
		assert.Equal(t, 1, strings.Count(out, "\n"), "the array on one line, as docker 28")
	})

	t.Run("ls --format json and table", func(t *testing.T) {
		out := d.ok(t, "ls", "--format", "json")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, out)
		var row map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[1]), &row)) // ls sorts by name: crash, vol, web
		assert.Equal(t, map[string]any{"ID": vol.ID[:12], "Name": "vol:latest", "Description": vol.Config.Description[:44] + "…",
			"Enabled": true, "PluginReference": vol.PluginReference, "Restarts": 0.0, "Status": "running"}, row)
		out = d.ok(t, "ls", "--format", `table {{.Name}}\t{{.Enabled}}\t{{.Id}}`)
		assert.Equal(t, ""+
			"NAME           ENABLED   ID\n"+
			"crash:latest   false     "+d.inspect(t, "crash").ID+"\n"+
			"vol:latest     true      "+vol.ID+"\n"+
			"web:latest     true      "+web.ID+"\n", out)
		assert.Equal(t, d.ok(t, "ls"), d.ok(t, "ls", "--format", "table"))
	})

	t.Run("events --filter --until --format", func(t *testing.T) {
		since := begin.Format(time.RFC3339Nano)
		// --until in the past: the past events, then the command ends.
		out := d.ok(t, "events", "--since", since, "--until", "0s", "--filter", "event=enable", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
		assert.Equal(t, "enable vol:latest\nenable web:latest\n", out)
		// plugin= matches a name or ID, or its beginning, as docker's.
		out = d.ok(t, "events", "--since", since, "--until", "0s", "--filter", "plugin=we", "--filter", "event=create", "--filter", "event=enable", "--format", "{{.Action}} {{.Actor.ID}}")
		assert.Equal(t, "create "+web.ID+"\nenable "+web.ID+"\n", out)
		out = d.ok(t, "events", "--since", since, "--until", "0s", "--filter", "type=container")
		assert.Empty(t, out, "plugdbg's events are all of type plugin")
		out = d.ok(t, "events", "--since", since, "--until", "0s", "-f", "event=enable", "-f", "plugin="+vol.ID[:12], "--format", "json")
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &ev), out)
		assert.Equal(t, "enable", ev["Action"])
		assert.Equal(t, "local", ev["scope"])
		assert.Contains(t, d.fails(t, "events", "--filter", "color=red"), "invalid filter 'color'")
	})

	t.Run("stats --no-stream of every enabled plugin", func(t *testing.T) {
		out := d.ok(t, "stats", "--no-stream")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3, out)
		assert.Regexp(t, `^ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+PIDS\s+CALLS/S\s+P99$`, lines[0])
		assert.Regexp(t, `^`+vol.ID[:12]+`\s+vol:latest\s`, lines[1])
		assert.Regexp(t, `^`+web.ID[:12]+`\s+web:latest\s`, lines[2])
		out = d.ok(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.PidsCurrent}}")
		assert.Regexp(t, `^vol:latest ([1-9]\d*) ([1-9]\d*)\nweb:latest ([1-9]\d*) ([1-9]\d*)\n$`, out, "PIDs and the sample's PidsCurrent")
	})

	t.Run("top with ps options", func(t *testing.T) {
		_, err := exec.LookPath("ps")
		require.NoError(t, err, "ps (procps: scripts/deps.sh installs it)")
		out := d.ok(t, "top", "vol", "-o", "pid,user,comm")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		assert.Equal(t, []string{"PID", "USER", "COMMAND"}, strings.Fields(lines[0]))
		// The plugin has no /etc/passwd: its user is a number, not the host's "root".
		assert.Equal(t, []string{strconv.Itoa(vol.State.Pid), "0", "pdvol"}, strings.Fields(lines[1]))
		out = d.ok(t, "top", "vol", "-ef")
		assert.Regexp(t, `^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n0\s+`+strconv.Itoa(vol.State.Pid)+`\s.*/pdvol\n$`, out)
		assert.Contains(t, d.fails(t, "top", "vol", "-o", "comm"), "without a PID column")
		assert.Contains(t, d.fails(t, "top", "vol", "-o", "pid,user=PID"), "only pid may be titled PID")
	})

	t.Run("docker CLI beside plugdbg", func(t *testing.T) {
		docker, err := exec.LookPath("docker")
		require.NoError(t, err, "the docker CLI (docker.io: scripts/deps.sh test installs it)")
		run := func(args ...string) string {
			cmd := exec.Command(docker, args...)
			cmd.Env = []string{"DOCKER_HOST=" + d.host, "DOCKER_CONFIG=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			require.NoError(t, cmd.Run(), "docker %q: %s", args, e.String())
			return o.String()
		}
		for _, args := range [][]string{
			{"inspect", "--format", "{{.Id}} {{.Name}} {{.Enabled}}", "vol"},
			{"inspect", "--format", "{{.ID}} {{json .Settings.Env}}", "vol", "web"},
			{"ls", "--format", `table {{.ID}}\t{{.Name}}\t{{.Enabled}}`},
			{"ls", "--format", "{{.Name}} {{.PluginReference}}"},
			{"ls"},
		} {
			want, got := run(append([]string{"plugin"}, args...)...), d.ok(t, args...)
			t.Logf("docker plugin %q:\n%splugdbg %q:\n%s", args, want, args, got)
			assert.Equal(t, want, got, "%q", args)
		}
		// events: docker's filters and --until, sent by the docker CLI. It
		// sends --until in whole seconds: the next one, which the daemon's
		// stream ends at.
		until := strconv.FormatInt(time.Now().Unix()+1, 10)
		since := strconv.FormatInt(begin.Unix(), 10)
		evArgs := []string{"--since", since, "--until", until, "--filter", "event=enable", "--filter", "plugin=web", "--format", "{{.Action}} {{.Actor.ID}}"}
		want, got := run(append([]string{"events"}, evArgs...)...), d.ok(t, append([]string{"events"}, evArgs...)...)
		t.Logf("docker events %q:\n%splugdbg events:\n%s", evArgs, want, got)
		assert.Equal(t, "enable "+web.ID+"\n", want)
		assert.Equal(t, want, got)

		// ls --format json: docker's fields the same, plugdbg's beside them.
		dout, pout := run("plugin", "ls", "--format", "json"), d.ok(t, "ls", "--format", "json")
		t.Logf("docker plugin ls --format json:\n%splugdbg ls --format json:\n%s", dout, pout)
		dl, pl := strings.Split(strings.TrimSpace(dout), "\n"), strings.Split(strings.TrimSpace(pout), "\n")
		require.Equal(t, len(dl), len(pl))
		for i := range dl {
			var dr, pr map[string]any
			require.NoError(t, json.Unmarshal([]byte(dl[i]), &dr))
			require.NoError(t, json.Unmarshal([]byte(pl[i]), &pr))
			for k, v := range dr {
				assert.Equal(t, v, pr[k], "%s of line %d", k, i)
			}
		}
	})
}
