package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventsOptions(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	eo, tmpl, err := eventsOptions{since: "10m", until: "0s", filters: []string{"event=enable", "event=disable", "plugin=vol"}}.parse(now)
	require.NoError(t, err)
	assert.Nil(t, tmpl)
	assert.Equal(t, now.Add(-10*time.Minute), eo.Since)
	assert.Equal(t, now, eo.Until)
	assert.Equal(t, map[string][]string{"event": {"enable", "disable"}, "plugin": {"vol"}}, eo.Filters)

	ev := events.Message{Type: events.PluginEventType, Action: "enable", Scope: "local", TimeNano: 5,
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"name": "vol:latest"}}}
	for format, want := range map[string]string{
		"{{.Action}} {{.Actor.Attributes.name}}": "enable vol:latest\n",
		"{{.scope}} {{.timeNano}}":               "local 5\n", // the JSON names too
		"json":                                   `{"Type":"plugin","Action":"enable","Actor":{"ID":"abc","Attributes":{"name":"vol:latest"}},"scope":"local","timeNano":5}` + "\n",
	} {
		_, tmpl, err := eventsOptions{format: format}.parse(now)
		require.NoError(t, err, format)
		var out bytes.Buffer
		require.NoError(t, tmpl.Execute(&out, ev))
		assert.Equal(t, want, out.String(), format)
	}

	for _, tt := range []struct {
		o    eventsOptions
		want string
	}{
		{eventsOptions{filters: []string{"container=x"}}, "invalid filter 'container': events take plugin=, type=, event="},
		{eventsOptions{filters: []string{"plugin"}}, "bad format of filter (expected name=value): plugin"},
		{eventsOptions{until: "soon"}, "invalid --until"},
		{eventsOptions{since: "1m", until: "2m"}, "--since (1m) is after --until (2m)"},
		{eventsOptions{format: "{{.Nope}}"}, `map has no entry for key "Nope"`},
		{eventsOptions{format: "table {{.Action}}"}, "events are a stream, not a table"},
	} {
		_, _, err := tt.o.parse(now)
		require.Error(t, err, "%+v", tt.o)
		assert.Contains(t, err.Error(), tt.want)
	}
}
