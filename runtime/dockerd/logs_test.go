package dockerd

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name, in      string
		ok            bool
		level, msg, p string
	}{
		{"info", `time="2026-05-01T10:00:03Z" level=info msg="listening on /run/docker/plugins/x.sock" plugin=4c2f`, true, "info", "listening on /run/docker/plugins/x.sock", "4c2f"},
		{"bare msg", `time="2026-05-01T10:00:04Z" level=error msg=boom plugin=4c2f`, true, "error", "boom", "4c2f"},
		{"escapes", `time="2026-05-01T10:00:04Z" level=error msg="a \"quoted\" word\tand tab" plugin=4c2f`, true, "error", "a \"quoted\" word\tand tab", "4c2f"},
		{"daemon line", `time="2026-05-01T10:00:04.123456789Z" level=debug msg="Calling GET /_ping"`, true, "debug", "Calling GET /_ping", ""},
		{"tty form", `INFO[0003] listening    plugin=4c2f`, false, "", "", ""},
		{"unterminated", `time="2026-05-01T10:00:04Z" level=info msg="open`, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := ParseLine(tt.in)
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.level, l.Level)
				assert.Equal(t, tt.msg, l.Msg)
				assert.Equal(t, tt.p, l.Fields["plugin"])
			}
		})
	}
}

func TestLogsFromFile(t *testing.T) {
	id := "aaaa"
	path := filepath.Join(t.TempDir(), "dockerd.log")
	content := `time="2026-05-01T10:00:01Z" level=info msg="one" plugin=aaaa
time="2026-05-01T10:00:02Z" level=info msg="other plugin" plugin=bbbb
time="2026-05-01T10:00:03Z" level=error msg="two on stderr" plugin=aaaa
time="2026-05-01T10:00:04Z" level=info msg="Calling GET /plugins" 
time="2026-05-01T10:00:05Z" level=info msg=three plugin=aaaa
`
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	h := &Host{LogFile: path}
	get := func(o types.LogOptions) []string {
		var out []string
		require.NoError(t, h.Logs(context.Background(), id, "p", o, func(l types.LogLine) error {
			out = append(out, l.Stream+":"+l.Line)
			return nil
		}))
		return out
	}
	assert.Equal(t, []string{"stdout:one", "stderr:two on stderr", "stdout:three"}, get(types.LogOptions{}))
	assert.Equal(t, []string{"stdout:three"}, get(types.LogOptions{Tail: 1}))
	assert.Empty(t, get(types.LogOptions{Tail: -1}))
	assert.Equal(t, []string{"stderr:two on stderr"}, get(types.LogOptions{Stream: "stderr"}))
	assert.Equal(t, []string{"stdout:one", "stdout:three"}, get(types.LogOptions{Grep: regexp.MustCompile(`^(one|three)$`)}))
	t3 := time.Date(2026, 5, 1, 10, 0, 3, 0, time.UTC)
	assert.Equal(t, []string{"stderr:two on stderr", "stdout:three"}, get(types.LogOptions{Since: t3}))
	assert.Equal(t, []string{"stdout:one"}, get(types.LogOptions{Until: t3}))

	// Follow: lines appended later arrive; a partial line waits for its
	// end. One partial line is there before the follow starts, so the
	// history read sees it incomplete for certain; another is written with
	// a whole line before it, so the poll that delivers that line has seen
	// it incomplete too. Started says when the follow reads from where the
	// history stopped.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	appendLog := func(s string) {
		t.Helper()
		_, err := f.WriteString(s)
		require.NoError(t, err)
	}
	appendLog(`time="2026-05-01T10:00:06Z" level=info msg=fo`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- h.Logs(ctx, id, "p", types.LogOptions{Follow: true, Tail: -1, Started: func() { close(started) }}, func(l types.LogLine) error {
			got <- l.Line
			return nil
		})
	}()
	next := func(want string) {
		t.Helper()
		select {
		case l := <-got:
			assert.Equal(t, want, l)
		case <-time.After(time.Minute): // only a broken follow takes this long
			t.Fatalf("the appended line %q did not arrive", want)
		}
	}
	<-started
	appendLog("ur plugin=aaaa\n" + `time="2026-05-01T10:00:07Z" level=info msg=five plugin=aaaa` + "\n" + `time="2026-05-01T10:00:08Z" level=info msg=si`)
	next("four")
	next("five")
	appendLog("x plugin=aaaa\n")
	next("six")
	cancel()
	require.NoError(t, <-done)
}
