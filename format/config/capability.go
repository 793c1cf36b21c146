package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/plugin"
)

// Capabilities (the middle part of an interface type such as
// "docker.volumedriver/1.0") that plugdbg knows, in Docker's spelling.
const (
	CapVolumeDriver     = "volumedriver"
	CapNetworkDriver    = "networkdriver"
	CapIpamDriver       = "ipamdriver"
	CapAuthz            = "authz"
	CapLogDriver        = "logdriver"
	CapMetricsCollector = "metricscollector"
	CapCSINode          = "csinode"
	CapCSIController    = "csicontroller"
)

// knownCapabilities lists the capabilities Validate accepts, in the order
// its messages show them.
var knownCapabilities = []string{
	CapVolumeDriver, CapNetworkDriver, CapIpamDriver, CapAuthz,
	CapLogDriver, CapMetricsCollector, CapCSINode, CapCSIController,
}

// implementsNames maps a capability to the name a plugin lists in the
// "Implements" answer of Plugin.Activate (go-plugins-helpers manifests).
// CSI plugins speak gRPC and answer no Activate, so they have no entry.
var implementsNames = map[string]string{
	CapVolumeDriver:     "VolumeDriver",
	CapNetworkDriver:    "NetworkDriver",
	CapIpamDriver:       "IpamDriver",
	CapAuthz:            "authz",
	CapLogDriver:        "LogDriver",
	CapMetricsCollector: "MetricsCollector",
}

// InterfaceNames returns the Plugin.Activate "Implements" names that match
// the interface types a config declares, for example "VolumeDriver" for
// docker.volumedriver/1.0, in the order of types and without duplicates.
// Types without an Activate name (CSI, unknown capabilities, prefixes other
// than "docker") are left out; Validate reports the unknown ones.
func InterfaceNames(types []plugin.CapabilityID) []string {
	names := []string{}
	for _, t := range types {
		name, ok := implementsName(t)
		if ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func implementsName(t plugin.CapabilityID) (string, bool) {
	if t.Prefix != "docker" {
		return "", false
	}
	name, ok := implementsNames[t.Capability]
	return name, ok
}

// CheckImplements compares the interface types a config declares with the
// "Implements" list a plugin answered to Plugin.Activate. It returns an
// error naming both lists when a declared type that needs an Activate entry
// is missing from implements. Names match exactly, as in Docker. Extra
// entries in implements are not an error.
func CheckImplements(types []plugin.CapabilityID, implements []string) error {
	var missing []string
	for _, t := range types {
		name, ok := implementsName(t)
		if ok && !slices.Contains(implements, name) && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	declared := make([]string, len(types))
	for i, t := range types {
		declared[i] = t.String()
	}
	return fmt.Errorf("plugin implements [%s] but config.json declares [%s]: missing %s",
		strings.Join(implements, " "), strings.Join(declared, " "), strings.Join(missing, ", "))
}
