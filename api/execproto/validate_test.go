package execproto_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plugdbg/plugdbg/api/types"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		c       types.ExecConfig
		wantErr string // "" for valid
	}{
		{name: "minimal", c: types.ExecConfig{Cmd: []string{"sh"}}},
		{name: "absolute WorkingDir", c: types.ExecConfig{Cmd: []string{"pwd"}, WorkingDir: "/var/lib"}},
		{name: "unclean absolute WorkingDir", c: types.ExecConfig{Cmd: []string{"pwd"}, WorkingDir: "/var/../tmp/"}},
		{name: "relative WorkingDir", c: types.ExecConfig{Cmd: []string{"pwd"}, WorkingDir: "tmp"}, wantErr: `WorkingDir "tmp": must be an absolute path in the container`},
		{name: "dot WorkingDir", c: types.ExecConfig{Cmd: []string{"pwd"}, WorkingDir: "."}, wantErr: `WorkingDir ".": must be an absolute path in the container`},
		{name: "NUL in WorkingDir", c: types.ExecConfig{Cmd: []string{"pwd"}, WorkingDir: "/tmp\x00"}, wantErr: "WorkingDir: contains a NUL byte"},
		{name: "NUL in Cmd", c: types.ExecConfig{Cmd: []string{"ls", "-l", "a\x00b"}}, wantErr: "Cmd[2]: contains a NUL byte"},
		{name: "NUL in Env", c: types.ExecConfig{Cmd: []string{"env"}, Env: []string{"A=1", "B=\x00"}}, wantErr: "Env[1]: contains a NUL byte"},
		{name: "NUL in User", c: types.ExecConfig{Cmd: []string{"id"}, User: "root\x00"}, wantErr: "User: contains a NUL byte"},
		{name: "no command is the caller's to report", c: types.ExecConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}
