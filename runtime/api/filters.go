package api

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/moby/moby/api/types/plugin"
)

// filters are the Engine API's filters query parameter, in either of its
// JSON forms: {"key":{"value":true}} or the older {"key":["value"]}.
type filters map[string][]string

func parseFilters(raw string) (filters, error) {
	f := filters{}
	if raw == "" {
		return f, nil
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
	for k := range f {
		if k != "enabled" && k != "capability" {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
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
