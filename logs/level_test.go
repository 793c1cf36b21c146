package logs_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/logs"
)

func TestLineLevel(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		want   logrus.Level
		wantOK bool
	}{
		{name: "plain text", line: "listening on :8080"},
		{name: "empty", line: ""},
		{name: "logfmt debug", line: `time="2024-01-01T00:00:00Z" level=debug msg="x"`, want: logrus.DebugLevel, wantOK: true},
		{name: "logfmt at the start", line: `level=warn msg=x`, want: logrus.WarnLevel, wantOK: true},
		{name: "logfmt at the end", line: `msg=x level=error`, want: logrus.ErrorLevel, wantOK: true},
		{name: "logfmt quoted value", line: `msg=x level="warn" a=b`, want: logrus.WarnLevel, wantOK: true},
		{name: "lvl key", line: `t=1 lvl=error msg=boom`, want: logrus.ErrorLevel, wantOK: true},
		{name: "after a tab", line: "x\tlevel=info", want: logrus.InfoLevel, wantOK: true},
		{name: "upper case value", line: `level=WARNING`, want: logrus.WarnLevel, wantOK: true},
		{name: "mixed case value", line: `level=Debug`, want: logrus.DebugLevel, wantOK: true},
		{name: "trace", line: `level=trace`, want: logrus.TraceLevel, wantOK: true},
		{name: "err", line: `lvl=err`, want: logrus.ErrorLevel, wantOK: true},
		{name: "fatal", line: `level=fatal`, want: logrus.FatalLevel, wantOK: true},
		{name: "panic", line: `level=panic`, want: logrus.PanicLevel, wantOK: true},
		{name: "inside a quoted value", line: `msg="level=debug" other=1`},
		{name: "inside a quoted value with escaped quotes", line: `msg="say \" level=debug \"" x=1`},
		{name: "after a quoted value", line: `msg="level=debug" level=warn`, want: logrus.WarnLevel, wantOK: true},
		{name: "part of another key", line: `loglevel=debug sublvl=error`},
		{name: "part of another value", line: `path=/level=debug`},
		{name: "unknown value", line: `level=verbose`},
		{name: "unknown then known", line: `level=verbose lvl=info`, want: logrus.InfoLevel, wantOK: true},
		{name: "empty value", line: `level= msg=x`},
		{name: "unterminated quote", line: `level="warn`},
		{name: "key in upper case is not a key", line: `LEVEL=debug`},
		{name: "value longer than any level", line: `level=informational`},
		{name: "JSON level", line: `{"time":"x","level":"warn","msg":"level=debug"}`, want: logrus.WarnLevel, wantOK: true},
		{name: "JSON lvl", line: `{"lvl":"ERROR","msg":"m"}`, want: logrus.ErrorLevel, wantOK: true},
		{name: "JSON level wins over lvl", line: `{"lvl":"error","level":"debug"}`, want: logrus.DebugLevel, wantOK: true},
		{name: "JSON unknown level then lvl", line: `{"level":"notice","lvl":"info"}`, want: logrus.InfoLevel, wantOK: true},
		{name: "JSON numeric level", line: `{"level":30,"msg":"pino"}`},
		{name: "JSON nested level does not count", line: `{"msg":"x","ctx":{"level":"debug"}}`},
		{name: "JSON without level", line: `{"msg":"level=debug"}`},
		{name: "JSON level as a value only", line: `{"msg":"level"}`},
		{name: "JSON escaped value", line: `{"level":"w\u0061rn"}`, want: logrus.WarnLevel, wantOK: true},
		{name: "not JSON after all, logfmt inside", line: `{broken level=error`, want: logrus.ErrorLevel, wantOK: true},
		{name: "not JSON after all, quoted key", line: `{"level":"warn" oops`},
		{name: "JSON array", line: `["level=debug"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := logs.LineLevel(tt.line)
			assert.Equal(t, tt.wantOK, ok)
			if tt.wantOK {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestLineLevelAllocations(t *testing.T) {
	tests := []struct {
		name string
		line string
	}{
		{name: "plain", line: "GET /Plugin.Activate 200 1.2ms"},
		{name: "logfmt", line: `time="2024-01-01T00:00:00Z" level=info msg="request served" path=/VolumeDriver.Mount`},
		{name: "JSON", line: `{"time":"2024-01-01T00:00:00Z","level":"warn","msg":"slow","ms":[1.5,2e3],"ok":true}`},
		{name: "JSON without level", line: `{"time":"2024-01-01T00:00:00Z","msg":"level=debug"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(100, func() { logs.LineLevel(tt.line) }))
		})
	}
}

func TestTagUsesTheLinesLevel(t *testing.T) {
	tests := []struct {
		name      string
		stream    string
		line      string
		wantLevel logrus.Level
	}{
		{name: "stdout debug line", stream: logs.Stdout, line: "level=debug msg=x", wantLevel: logrus.DebugLevel},
		{name: "stderr info line", stream: logs.Stderr, line: `time=x level=info msg="started"`, wantLevel: logrus.InfoLevel},
		{name: "stderr JSON warn line", stream: logs.Stderr, line: `{"level":"warn","msg":"slow"}`, wantLevel: logrus.WarnLevel},
		{name: "stdout error line", stream: logs.Stdout, line: "lvl=error", wantLevel: logrus.ErrorLevel},
		{name: "stderr line without level", stream: logs.Stderr, line: `msg="level=debug"`, wantLevel: logrus.ErrorLevel},
		{name: "stdout line without level", stream: logs.Stdout, line: "plain", wantLevel: logrus.InfoLevel},
		{name: "fatal is logged, not obeyed", stream: logs.Stdout, line: "level=fatal", wantLevel: logrus.FatalLevel},
		{name: "panic is logged, not obeyed", stream: logs.Stdout, line: "level=panic", wantLevel: logrus.PanicLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := logs.NewDaemonLogger()
			var buf bytes.Buffer
			l.SetOutput(&buf)
			l.SetLevel(logrus.TraceLevel)
			l.ExitFunc = func(int) { t.Fatal("Tag exited") }
			hook := &captureHook{}
			l.AddHook(hook)
			require.NotPanics(t, func() {
				logs.Tag(l, pluginID, logs.Entry{Seq: 1, Time: 42, Stream: tt.stream, Line: tt.line})
			})
			require.Len(t, hook.entries, 1)
			assert.Equal(t, tt.wantLevel, hook.entries[0].Level)
			assert.Equal(t, pluginID, hook.entries[0].Data["plugin"])
			assert.True(t, strings.HasPrefix(buf.String(), `time="1970-01-01T00:00:00.000000042Z" level=`+tt.wantLevel.String()+` `), buf.String())
		})
	}
}

func TestTagFiltersTheLinesLevel(t *testing.T) {
	l := logs.NewDaemonLogger()
	var buf bytes.Buffer
	l.SetOutput(&buf)
	// At the default level, info, a plugin's own debug lines stay out of
	// the daemon log even on stderr.
	logs.Tag(l, pluginID, logs.Entry{Seq: 1, Time: 1, Stream: logs.Stderr, Line: "level=debug msg=hidden"})
	logs.Tag(l, pluginID, logs.Entry{Seq: 2, Time: 2, Stream: logs.Stdout, Line: "level=warn msg=shown"})
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), "shown")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		logs.Tag(l, pluginID, logs.Entry{Seq: 1, Time: 1, Stream: logs.Stderr, Line: "level=debug msg=hidden"})
	}), "a line below the level costs no allocation")
}
