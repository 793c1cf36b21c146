package main

import (
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	env := map[string]string{"OUT": `"a\n\nb\xff"`, "ERR": "`raw\\n`", "BIG": "3"}
	c, err := parseEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.out != "a\n\nb\xff" || c.err != `raw\n` || c.big != 3 {
		t.Errorf("parseEnv = %+v", c)
	}
	if c, err := parseEnv(func(string) string { return "" }); err != nil || c != (config{}) {
		t.Errorf("empty env: %+v, %v", c, err)
	}
	for _, bad := range []map[string]string{{"OUT": "a\\n"}, {"ERR": `"open`}, {"BIG": "-1"}, {"BIG": "x"}} {
		if _, err := parseEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestBigLine(t *testing.T) {
	b := bigLine(30)
	if want := "abcdefghijklmnopqrstuvwxyzabcd\n"; string(b) != want {
		t.Errorf("bigLine(30) = %q", b)
	}
	if b := bigLine(70000); len(b) != 70001 || strings.Count(string(b), "\n") != 1 {
		t.Errorf("bigLine(70000): %d bytes", len(b))
	}
}
