package api

import (
	"testing"

	"github.com/moby/moby/api/types/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIncludeEvent: docker's event filter rules (moby daemon/events/filter.go).
func TestIncludeEvent(t *testing.T) {
	ev := events.Message{Type: events.PluginEventType, Action: "enable", Scope: "local",
		Actor: events.Actor{ID: "4c2f0f5d6a01ffff", Attributes: map[string]string{"name": "vol:latest"}}}
	tests := []struct {
		name    string
		filters string
		want    bool
	}{
		{name: "none", filters: ``, want: true},
		{name: "event", filters: `{"event":{"enable":true}}`, want: true},
		{name: "other event", filters: `{"event":{"disable":true}}`, want: false},
		{name: "one key's values are alternatives", filters: `{"event":{"disable":true,"enable":true}}`, want: true},
		{name: "keys must all match", filters: `{"event":{"enable":true},"plugin":{"other":true}}`, want: false},
		{name: "plugin by name", filters: `{"plugin":{"vol:latest":true}}`, want: true},
		{name: "plugin by the beginning of its name, as docker", filters: `{"plugin":{"vol":true}}`, want: true},
		{name: "plugin by ID prefix", filters: `{"plugin":{"4c2f":true}}`, want: true},
		{name: "type plugin", filters: `{"type":{"plugin":true}}`, want: true},
		{name: "type container selects none of plugdbg's", filters: `{"type":{"container":true}}`, want: false},
		{name: "container filter selects none", filters: `{"container":{"web":true}}`, want: false},
		{name: "legacy form", filters: `{"event":["enable"],"type":["plugin"]}`, want: true},
		{name: "label", filters: `{"label":{"name=vol:latest":true}}`, want: true},
		{name: "other label", filters: `{"label":{"name=x":true}}`, want: false},
		{name: "unknown keys ignored, as dockerd", filters: `{"color":{"red":true}}`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := decodeFilters(tt.filters)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.includeEvent(ev))
		})
	}
	_, err := decodeFilters(`{"event":`)
	assert.Error(t, err)
}
