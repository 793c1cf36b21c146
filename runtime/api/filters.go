package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/plugin"
)

// filters are the Engine API's filters query parameter, in either of its
// JSON forms: {"key":{"value":true}} or the older {"key":["value"]}.
type filters map[string][]string

func parseFilters(raw string) (filters, error) {
	f, err := decodeFilters(raw)
	if err != nil {
		return nil, err
	}
	for k := range f {
		if k != "enabled" && k != "capability" {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return f, nil
}

// maxFilters bounds the filters query parameter (keys and values together),
// far above what a command line gives.
const maxFilters = 64 << 10

// decodeFilters reads the filters query parameter, keys unchecked.
func decodeFilters(raw string) (filters, error) {
	f := filters{}
	if raw == "" {
		return f, nil
	}
	if len(raw) > maxFilters {
		return nil, fmt.Errorf("filters of %d bytes: at most %d", len(raw), maxFilters)
	}
	var modern map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &modern); err == nil {
		for k, vs := range modern {
			for v, on := range vs {
				if on {
					f[k] = append(f[k], v)
				}
			}
		}
	} else {
		var legacy map[string][]string
		if err := json.Unmarshal([]byte(raw), &legacy); err != nil {
			return nil, fmt.Errorf("invalid filter %q: %w", raw, err)
		}
		f = legacy
	}
	return f, nil
}

// match applies Docker's rules: enabled is a boolean, and with capability
// every interface type of the plugin must match one of the values.
func (f filters) match(p plugin.Plugin) (bool, error) {
	for _, v := range f["enabled"] {
		want, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("invalid filter 'enabled=%s'", v)
		}
		if p.Enabled != want {
			return false, nil
		}
	}
	if caps := f["capability"]; len(caps) > 0 {
		for _, t := range p.Config.Interface.Types {
			found := false
			for _, c := range caps {
				found = found || c == t.Capability
			}
			if !found {
				return false, nil
			}
		}
	}
	return true, nil
}

// eventNameKeys are the Engine API's event filters that name an object of
// their type (docker's events.Filter.fuzzyMatchName): a value matches an
// event whose actor's ID or name attribute it is, or begins.
var eventNameKeys = []string{"plugin", "container", "daemon", "network", "volume", "node", "service", "secret", "config"}

// includeEvent applies docker's event filters (moby daemon/events/filter.go):
// values of one key are alternatives, keys must all match. type, event and
// scope are exact; plugin and the other object keys match the actor's ID
// or name, or their beginning; image the actor's ID or name exactly; label
// KEY or KEY=VALUE among the attributes. Other keys are ignored, as dockerd
// ignores them.
func (f filters) includeEvent(ev events.Message) bool {
	exact := func(key, v string) bool {
		vs, ok := f[key]
		return !ok || slices.Contains(vs, v)
	}
	if !exact("type", string(ev.Type)) || !exact("event", string(ev.Action)) || !exact("scope", ev.Scope) {
		return false
	}
	name := ev.Actor.Attributes["name"]
	if !exact("image", ev.Actor.ID) && !exact("image", name) {
		return false
	}
	for _, key := range eventNameKeys {
		vs, ok := f[key]
		if !ok {
			continue
		}
		found := false
		for _, v := range vs {
			found = found || strings.HasPrefix(ev.Actor.ID, v) || strings.HasPrefix(name, v)
		}
		if !found {
			return false
		}
	}
	for _, l := range f["label"] {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := ev.Actor.Attributes[k]
		if !ok || withValue && got != v {
			return false
		}
	}
	return true
}
