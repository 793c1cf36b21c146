package logs_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const pluginID = "4c2f0f5d6a0123456789abcdef0123456789abcdef0123456789abcdef012345"

// timeField is logrus's time= field with a fixed-width nanosecond RFC 3339
// timestamp, as dockerd writes it.
var timeField = regexp.MustCompile(`time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(?:Z|[+-]\d\d:\d\d))"`)

func TestTag(t *testing.T) {
	l := logs.NewDaemonLogger()
	var buf bytes.Buffer
	l.SetOutput(&buf)

	entries := []logs.Entry{
		{Seq: 1, Time: time.Date(2024, 5, 6, 7, 8, 9, 120000000, time.UTC).UnixNano(), Stream: logs.Stdout, Line: "listening on /run/docker/plugins/p.sock"},
		{Seq: 2, Time: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano(), Stream: logs.Stderr, Line: "warning: something=odd"},
		{Seq: 3, Time: time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC).UnixNano(), Stream: logs.Stdout, Line: ""},
		{Seq: 4, Time: time.Date(2024, 5, 6, 7, 8, 10, 1, time.UTC).UnixNano(), Stream: logs.Stderr, Line: `quote " and \ backslash`, Partial: true},
	}
	for _, e := range entries {
		logs.Tag(l, pluginID, e)
	}

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, len(entries))
	for i, line := range lines {
		m := timeField.FindStringSubmatch(line)
		require.NotNil(t, m, "line %d has no fixed-width nanosecond time: %s", i, line)
		got, err := time.Parse(time.RFC3339Nano, m[1])
		require.NoError(t, err)
		assert.Equal(t, entries[i].Time, got.UnixNano(), "line %d keeps the monitor's time to the nanosecond", i)
	}
	// Fixed width keeps lines in time order when sorted as text.
	assert.IsNonDecreasing(t, lines)

	scrubbed := timeField.ReplaceAllString(buf.String(), `time="TIMESTAMP"`)
	golden := filepath.Join("testdata", "tag.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(scrubbed), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create the golden file")
	assert.Equal(t, string(want), scrubbed)
}

func TestTagLevels(t *testing.T) {
	tests := []struct {
		name      string
		stream    string
		wantLevel logrus.Level
	}{
		{name: "stdout at info", stream: logs.Stdout, wantLevel: logrus.InfoLevel},
		{name: "stderr at error", stream: logs.Stderr, wantLevel: logrus.ErrorLevel},
		{name: "unknown stream at info", stream: "other", wantLevel: logrus.InfoLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := logs.NewDaemonLogger()
			l.SetOutput(&bytes.Buffer{})
			hook := &captureHook{}
			l.AddHook(hook)
			logs.Tag(l, pluginID, logs.Entry{Seq: 1, Time: 42, Stream: tt.stream, Line: "x"})
			require.Len(t, hook.entries, 1)
			got := hook.entries[0]
			assert.Equal(t, tt.wantLevel, got.Level)
			assert.Equal(t, pluginID, got.Data["plugin"])
			assert.Equal(t, "x", got.Message)
			assert.Equal(t, int64(42), got.Time.UnixNano())
		})
	}
}

func TestTagRespectsLevel(t *testing.T) {
	l := logs.NewDaemonLogger()
	var buf bytes.Buffer
	l.SetOutput(&buf)
	l.SetLevel(logrus.ErrorLevel)
	logs.Tag(l, pluginID, logs.Entry{Seq: 1, Time: 1, Stream: logs.Stdout, Line: "hidden"})
	logs.Tag(l, pluginID, logs.Entry{Seq: 2, Time: 2, Stream: logs.Stderr, Line: "shown"})
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), "shown")
}

type captureHook struct{ entries []*logrus.Entry }

func (h *captureHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h *captureHook) Fire(e *logrus.Entry) error {
	h.entries = append(h.entries, e)
	return nil
}

// textLogger is NewDaemonLogger's logger with logrus's own TextFormatter,
// the reference for its output.
func textLogger(out *bytes.Buffer) *logrus.Logger {
	l := logrus.New()
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02T15:04:05.000000000Z07:00", DisableColors: true})
	l.SetOutput(out)
	l.SetLevel(logrus.TraceLevel)
	return l
}

// addFieldHook adds a field to every entry.
type addFieldHook struct{}

func (addFieldHook) Levels() []logrus.Level { return logrus.AllLevels }
func (addFieldHook) Fire(e *logrus.Entry) error {
	e.Data["extra"] = "x y"
	return nil
}

// tagBoth tags e with id through NewDaemonLogger and through the
// reference, and returns both outputs.
func tagBoth(id string, e logs.Entry, hooks ...logrus.Hook) (got, want string) {
	var gotBuf, wantBuf bytes.Buffer
	l := logs.NewDaemonLogger()
	l.SetOutput(&gotBuf)
	l.SetLevel(logrus.TraceLevel)
	ref := textLogger(&wantBuf)
	for _, h := range hooks {
		l.AddHook(h)
		ref.AddHook(h)
	}
	logs.Tag(l, id, e)
	logs.Tag(ref, id, e)
	return gotBuf.String(), wantBuf.String()
}

func TestDaemonFormatterMatchesTextFormatter(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		entry logs.Entry
		hooks []logrus.Hook
	}{
		{name: "plain", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: "hello world"}},
		{name: "bare word", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: "hello-world_1.2/x@y^z+"}},
		{name: "empty line", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stderr, Line: ""}},
		{name: "quotes and escapes", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stderr, Line: "a \"b\" \\ \t\x1b[31m\xff\u2028é"}},
		{name: "own level", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stderr, Line: "level=warn msg=x"}},
		{name: "long line", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: strings.Repeat("long line ", 1000)}},
		{name: "negative time", id: pluginID, entry: logs.Entry{Time: -1234567890123, Stream: logs.Stdout, Line: "x"}},
		{name: "id that needs quoting", id: "a b", entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: "x"}},
		{name: "empty id", id: "", entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: "x"}},
		{name: "hook adds a field", id: pluginID, entry: logs.Entry{Time: 1, Stream: logs.Stdout, Line: "x"}, hooks: []logrus.Hook{addFieldHook{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := tagBoth(tt.id, tt.entry, tt.hooks...)
			require.NotEmpty(t, want)
			assert.Equal(t, want, got)
		})
	}
}

func TestDaemonLoggerOtherEntries(t *testing.T) {
	var gotBuf, wantBuf bytes.Buffer
	l := logs.NewDaemonLogger()
	l.SetOutput(&gotBuf)
	ref := textLogger(&wantBuf)
	for _, l := range []*logrus.Logger{l, ref} {
		l.WithField("plugin", pluginID).WithTime(time.Unix(0, 5)).Warnf("%d lines skipped", 3)
		l.WithFields(logrus.Fields{"plugin": pluginID, "n": 1}).WithTime(time.Unix(0, 6)).Info("two fields")
	}
	assert.Equal(t, wantBuf.String(), gotBuf.String())
}

func FuzzDaemonFormatter(f *testing.F) {
	f.Add(pluginID, int64(1), "hello world", false)
	f.Add("x", int64(-5), "level=debug \"q\" \xff", true)
	f.Fuzz(func(t *testing.T, id string, tm int64, line string, stderr bool) {
		e := logs.Entry{Time: tm, Stream: logs.Stdout, Line: line}
		if stderr {
			e.Stream = logs.Stderr
		}
		got, want := tagBoth(id, e)
		require.Equal(t, want, got)
	})
}

// TestTagBatchMatchesTag: a batch comes out as its lines tagged one by
// one, at every logger level, with and without hooks.
func TestTagBatchMatchesTag(t *testing.T) {
	batch := []logs.Entry{
		{Time: 1, Stream: logs.Stdout, Line: "plain"},
		{Time: 2, Stream: logs.Stderr, Line: "an error"},
		{Time: 3, Stream: logs.Stdout, Line: "level=debug msg=quiet"},
		{Time: 4, Stream: logs.Stdout, Line: `{"level":"warn","msg":"careful"}`},
		{Time: 5, Stream: logs.Stderr, Line: "a \"quoted\" \\ line\xff"},
		{Time: 6, Stream: logs.Stdout, Line: ""},
		{Time: 7, Stream: logs.Stdout, Line: "level=panic msg=logged, not raised"},
		// TagBatch formats a second once: lines within one, across
		// seconds, before 1970, and back to a second seen before.
		{Time: 1714979289_000000000, Stream: logs.Stdout, Line: "x"},
		{Time: 1714979289_123456789, Stream: logs.Stdout, Line: "é \u2028 \x1b"},
		{Time: 1714979289_999999999, Stream: logs.Stdout, Line: "y"},
		{Time: 1714979290_000000001, Stream: logs.Stdout, Line: "z"},
		{Time: -1234567890123, Stream: logs.Stdout, Line: "old"},
		{Time: 1714979289_5, Stream: logs.Stdout, Line: "back"},
	}
	for _, level := range []logrus.Level{logrus.TraceLevel, logrus.InfoLevel, logrus.WarnLevel, logrus.ErrorLevel, logrus.FatalLevel} {
		for _, hooked := range []bool{false, true} {
			var gotBuf, wantBuf bytes.Buffer
			got, want := logs.NewDaemonLogger(), logs.NewDaemonLogger()
			got.SetOutput(&gotBuf)
			want.SetOutput(&wantBuf)
			got.SetLevel(level)
			want.SetLevel(level)
			if hooked {
				got.AddHook(addFieldHook{})
				want.AddHook(addFieldHook{})
			}
			logs.TagBatch(got, pluginID, batch)
			for _, e := range batch {
				logs.Tag(want, pluginID, e)
			}
			assert.Equal(t, wantBuf.String(), gotBuf.String(), "level %s, hooks %v", level, hooked)
		}
	}
}
