package logs

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
)

// Limits bound a plugin's output history: MaxSize bytes per file (<= 0:
// never rotated) and MaxFiles files in all, the current one included.
type Limits struct {
	MaxSize  int64
	MaxFiles int
}

// The options a plugin's history takes, named as Docker's json-file
// --log-opt names them.
const (
	OptMaxSize = "max-size"
	OptMaxFile = "max-file"
)

// ParseOpts reads log options over base: max-size as Docker reads it
// (bytes, or with a unit: 10k, 20m, 1g; -1 for no rotation) and max-file
// (a count of at least 1). An empty value resets an option to base's.
func ParseOpts(base Limits, opts map[string]string) (Limits, error) {
	l := base
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := strings.TrimSpace(opts[k])
		switch k {
		case OptMaxSize:
			if v == "" {
				continue
			}
			if v == "-1" {
				l.MaxSize = -1
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return base, fmt.Errorf("invalid log opt %s=%q: want a size such as 10m, or -1 for no rotation", k, opts[k])
			}
			l.MaxSize = n
		case OptMaxFile:
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return base, fmt.Errorf("invalid log opt %s=%q: want a number of files, at least 1", k, opts[k])
			}
			l.MaxFiles = n
		default:
			return base, fmt.Errorf("unknown log opt %q: plugin logs take %s and %s", k, OptMaxSize, OptMaxFile)
		}
	}
	return l, nil
}

// SplitOpts turns KEY=VALUE strings, as --log-opt takes them, into a map.
func SplitOpts(kvs []string) (map[string]string, error) {
	opts := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid log opt %q: want KEY=VALUE", kv)
		}
		opts[k] = v
	}
	return opts, nil
}

// Opts is l in the form ParseOpts reads, as inspect shows it.
func (l Limits) Opts() map[string]string {
	return map[string]string{OptMaxSize: formatSize(l.MaxSize), OptMaxFile: strconv.Itoa(l.MaxFiles)}
}

func formatSize(n int64) string {
	if n <= 0 {
		return "-1"
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
