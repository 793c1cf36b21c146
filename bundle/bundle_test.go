package bundle

import (
	"testing"

	"github.com/moby/moby/api/types/plugin"
	"github.com/stretchr/testify/assert"
)

func TestRedact(t *testing.T) {
	v := func(s string) *string { return &s }
	p := plugin.Plugin{
		Config: plugin.Config{Env: []plugin.Env{
			{Name: "API_KEY", Value: v("default-key")},
			{Name: "DEBUG", Value: v("0")},
			{Name: "db_Password", Value: v("hunter2")},
		}},
		Settings: plugin.Settings{Env: []string{"API_KEY=abc", "DEBUG=1", "AUTH_TOKEN=t0k", "SECRET=", "db_Password=hunter2", "PLAIN"}},
	}
	r := Redact(p)
	assert.Equal(t, []string{"API_KEY=<redacted>", "DEBUG=1", "AUTH_TOKEN=<redacted>", "SECRET=<redacted>", "db_Password=<redacted>", "PLAIN"}, r.Settings.Env)
	assert.Equal(t, "<redacted>", *r.Config.Env[0].Value)
	assert.Equal(t, "0", *r.Config.Env[1].Value)
	assert.Equal(t, "<redacted>", *r.Config.Env[2].Value)
	assert.Equal(t, "API_KEY=abc", p.Settings.Env[0], "the original is untouched")
	assert.Equal(t, "default-key", *p.Config.Env[0].Value)
}
