// Package testplugins only holds checks that every test plugin's config.json
// is one the daemon would accept and agrees with the plugin's code and with
// the Makefile.
package testplugins

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/moby/moby/api/types/plugin"
)

// interfaceOf is the interface type of the plugins that are not volume
// drivers.
var interfaceOf = map[string]string{
	"network": "docker.networkdriver/1.0",
	"ipam":    "docker.ipamdriver/1.0",
	"authz":   "docker.authz/1.0",
}

// The Makefile names each binary by this match on the raw file.
var entrypointLine = regexp.MustCompile(`"entrypoint": *\[ *"/([^"/]+)"`)

func TestConfigs(t *testing.T) {
	configs, _ := filepath.Glob("*/config.json")
	if len(configs) == 0 {
		t.Fatal("no */config.json found")
	}
	for _, path := range configs {
		dir := filepath.Dir(path)
		t.Run(dir, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Strict decoding catches misspelt keys, which the daemon would
			// silently ignore; keys still match case-insensitively, as there.
			var c plugin.Config
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if dec.More() {
				t.Fatal("trailing data after the JSON object")
			}

			m := entrypointLine.FindSubmatch(raw)
			if m == nil || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/"+string(m[1]) {
				t.Errorf("entrypoint %q: want one absolute path, written on one line for the Makefile", c.Entrypoint)
			}
			want := "docker.volumedriver/1.0"
			if w, ok := interfaceOf[dir]; ok {
				want = w
			}
			if got := c.Interface.Types; len(got) != 1 || got[0].String() != want {
				t.Errorf("interface.types = %v, want [%s]", got, want)
			}
			sock := c.Interface.Socket
			if sock == "" || len(sock) > 16 {
				t.Errorf("interface.socket %q: want 1-16 bytes", sock)
			}
			code, err := os.ReadFile(filepath.Join(dir, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(code, []byte(strconv.Quote(sock))) {
				t.Errorf("main.go never mentions socket %q", sock)
			}
			for _, e := range c.Env {
				if e.Value == nil || len(e.Settable) != 1 || e.Settable[0] != "value" {
					t.Errorf("env %s: want a non-null value, settable [value]", e.Name)
				}
			}
		})
	}
}
