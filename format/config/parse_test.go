package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sshfsConfig is vieux/sshfs's config.json, written in lower case as plugin
// authors do.
const sshfsConfig = `{
  "description": "sshFS plugin for Docker",
  "documentation": "https://docs.docker.com/engine/extend/plugins/",
  "entrypoint": ["/docker-volume-sshfs"],
  "env": [{"name": "DEBUG", "settable": ["value"], "value": "0"}],
  "interface": {"socket": "sshfs.sock", "types": ["docker.volumedriver/1.0"]},
  "linux": {
    "capabilities": ["CAP_SYS_ADMIN"],
    "devices": [{"path": "/dev/fuse"}]
  },
  "mounts": [{"destination": "/mnt/state", "options": ["rbind"], "name": "state",
              "source": "/var/lib/docker/plugins/", "settable": ["source"], "type": "bind"}],
  "network": {"type": "host"},
  "propagatedMount": "/mnt/volumes",
  "workdir": "/"
}
`

func TestParseLowerCaseKeys(t *testing.T) {
	c, err := Parse([]byte(sshfsConfig), "config.json")
	require.NoError(t, err)

	assert.Equal(t, "sshFS plugin for Docker", c.Description)
	assert.Equal(t, []string{"/docker-volume-sshfs"}, c.Entrypoint)
	require.Len(t, c.Env, 1)
	assert.Equal(t, "DEBUG", c.Env[0].Name)
	require.NotNil(t, c.Env[0].Value)
	assert.Equal(t, "0", *c.Env[0].Value)
	assert.Equal(t, "sshfs.sock", c.Interface.Socket)
	require.Len(t, c.Interface.Types, 1)
	assert.Equal(t, "docker", c.Interface.Types[0].Prefix)
	assert.Equal(t, "volumedriver", c.Interface.Types[0].Capability)
	assert.Equal(t, "1.0", c.Interface.Types[0].Version)
	assert.Equal(t, []string{"CAP_SYS_ADMIN"}, c.Linux.Capabilities)
	require.Len(t, c.Linux.Devices, 1)
	require.NotNil(t, c.Linux.Devices[0].Path)
	assert.Equal(t, "/dev/fuse", *c.Linux.Devices[0].Path)
	require.Len(t, c.Mounts, 1)
	require.NotNil(t, c.Mounts[0].Source)
	assert.Equal(t, "/var/lib/docker/plugins/", *c.Mounts[0].Source)
	assert.Equal(t, "host", c.Network.Type)
	assert.Equal(t, "/mnt/volumes", c.PropagatedMount)
	assert.Equal(t, "/", c.WorkDir)
	assert.NoError(t, Validate(c))
}

func TestParseNullVersusEmpty(t *testing.T) {
	c, err := Parse([]byte(`{"Env":[{"Name":"A","Value":null},{"Name":"B","Value":""}]}`), "")
	require.NoError(t, err)
	require.Len(t, c.Env, 2)
	assert.Nil(t, c.Env[0].Value)
	require.NotNil(t, c.Env[1].Value)
	assert.Equal(t, "", *c.Env[1].Value)
}

func TestParseUnknownKeysIgnored(t *testing.T) {
	c, err := Parse([]byte(`{"Entrypoint":["/x"],"NoSuchKey":{"a":[1,2]}}`), "config.json")
	require.NoError(t, err)
	assert.Equal(t, []string{"/x"}, c.Entrypoint)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		source  string
		want    []string
		invalid bool // wraps ErrInvalidConfigJSON
	}{
		{
			name:   "truncated",
			data:   `{"Entrypoint": ["/x"`,
			source: "/p/config.json",
			want:   []string{"/p/config.json: ", "truncated", "unexpected end of JSON input"},
		},
		{
			name:   "empty",
			data:   "  \n",
			source: "/p/config.json",
			want:   []string{"/p/config.json: empty file"},
		},
		{
			name:   "invalid character",
			data:   "{\n  \"Description\": \"x\",\n  \"Entrypoint\": }\n",
			source: "config.json",
			want:   []string{"config.json: line 3, column 17 (offset 40): invalid character '}'"},
		},
		{
			name:   "wrong type for Entrypoint",
			data:   `{"Entrypoint": "/bin/x"}`,
			source: "config.json",
			want:   []string{`config.json: field "Entrypoint": cannot use string, want array of strings`, "line 1, column"},
		},
		{
			name:   "wrong type in lower-case nested key",
			data:   `{"interface": {"types": [1]}}`,
			source: "config.json",
			want:   []string{`field "Interface.Types": cannot use number, want string`},
		},
		{
			name:   "wrong type for bool",
			data:   `{"IpcHost": "yes"}`,
			source: "config.json",
			want:   []string{`field "IpcHost": cannot use string, want boolean`},
		},
		{
			name:   "negative uid",
			data:   `{"User": {"UID": -1}}`,
			source: "config.json",
			want:   []string{`field "User.UID": cannot use number -1, want unsigned integer`},
		},
		{
			name:   "object for list",
			data:   `{"Mounts": {}}`,
			source: "config.json",
			want:   []string{`field "Mounts": cannot use object, want array of objects`},
		},
		{
			name:   "top level array",
			data:   `[]`,
			source: "config.json",
			want:   []string{"config.json: top level: cannot use array, want object"},
		},
		{
			name:    "trailing value",
			data:    "{}\n{}",
			source:  "config.json",
			want:    []string{"config.json: line 2, column 1 (offset 3): invalid config json"},
			invalid: true,
		},
		{
			name:    "trailing brace that Docker lets through",
			data:    `{"Entrypoint":["/x"]}}`,
			source:  "config.json",
			want:    []string{"invalid config json"},
			invalid: true,
		},
		{
			name:   "default source",
			data:   `{`,
			source: "",
			want:   []string{"config.json: file is truncated"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data), tt.source)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tt.invalid, errors.Is(err, ErrInvalidConfigJSON))
		})
	}
}

func TestParseTrailingWhiteSpace(t *testing.T) {
	cfg, err := Parse([]byte("{\"Entrypoint\":[\"/x\"]}\n\t \r\n"), "config.json")
	require.NoError(t, err)
	assert.Equal(t, []string{"/x"}, cfg.Entrypoint, "the document before the white space is parsed")
}
