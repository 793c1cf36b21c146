package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
)

// Temps lists the temporary files that writes to files directly in dir
// left there, unfinished: a process killed between creating one and
// renaming it over its target. Only call it when no write to dir can be
// under way, e.g. at start, before anything writes there.
func Temps(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if isTemp(e.Name()) && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// isTemp reports whether name is one Write gives its temporary files:
// "." + the target's name + ".tmp-" + a random suffix.
func isTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	return strings.HasPrefix(name, ".") && i > 1 && i+len(".tmp-") < len(name)
}
