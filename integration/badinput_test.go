package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/client"
)

// TestBadInput feeds the daemon broken plugins and refused operations. Each
// must fail with an error that names the problem, and leave the store as it
// was: the same directories, the same config.json bytes.
func TestBadInput(t *testing.T) {
	d := startDaemon(t)
	d.create(t, "vol", "volume")
	run := d.create(t, "run", "volume")
	run = d.enable(t, "run")

	volConfig, err := os.ReadFile(filepath.Join(pluginDir("volume"), "config.json"))
	require.NoError(t, err)
	volBin, err := os.ReadFile(filepath.Join(pluginDir("volume"), "rootfs", "pdvol"))
	require.NoError(t, err)
	// withConfig returns the volume plugin's config.json with old replaced.
	withConfig := func(old, new string) []byte {
		require.Contains(t, string(volConfig), old)
		return []byte(strings.Replace(string(volConfig), old, new, 1))
	}
	// Files the escape attempts would write, if they worked.
	evil := "pdi-evil-" + randomHex(t)
	evilPaths := []string{filepath.Join("/etc", evil), filepath.Join("/tmp", evil)}

	type result struct {
		err        error
		wantErr    []string
		wantStatus int // 0: the client refuses before it asks the daemon
	}
	type testCase struct {
		name string
		do   func(t *testing.T) result
	}
	var tests []testCase

	// Broken plugin contexts, through the CLI's client (which checks the
	// config's syntax itself) and as a raw tar to the API.
	configs := []struct {
		name    string
		config  []byte
		rootfs  bool
		wantDir []string // from CreateFromDir
		dirCode int      // its HTTP status; 0 when the client refuses first
		wantAPI []string // from a raw tar POSTed to /plugins/create
	}{
		{
			name:    "truncated config.json",
			config:  volConfig[:len(volConfig)/2],
			rootfs:  true,
			wantDir: []string{"config.json: file is truncated (unexpected end of JSON input after"},
			wantAPI: []string{"create bad:latest: config.json: file is truncated (unexpected end of JSON input after"},
		},
		{
			name:    "invalid JSON",
			config:  []byte(`{"description": "x",}`),
			rootfs:  true,
			wantDir: []string{"config.json: line 1, column 21 (offset 20): invalid character '}' looking for beginning of object key string"},
			wantAPI: []string{"create bad:latest: config.json: line 1, column 21 (offset 20): invalid character '}'"},
		},
		{
			name:    "missing rootfs",
			config:  volConfig,
			wantDir: []string{"rootfs: ", "/rootfs: no such directory"},
			wantAPI: []string{"no rootfs found"},
		},
		{
			name:    "empty entrypoint",
			config:  withConfig(`"entrypoint": ["/pdvol"]`, `"entrypoint": []`),
			rootfs:  true,
			wantDir: []string{"create bad:latest: config.json: Entrypoint: must not be empty"},
			dirCode: http.StatusBadRequest,
			wantAPI: []string{"create bad:latest: config.json: Entrypoint: must not be empty"},
		},
		{
			name:    "entrypoint missing from rootfs",
			config:  withConfig(`"entrypoint": ["/pdvol"]`, `"entrypoint": ["/bin/pdvol"]`),
			rootfs:  true,
			wantDir: []string{`Entrypoint[0] "/bin/pdvol": /bin: not found in rootfs`},
			dirCode: http.StatusBadRequest,
			wantAPI: []string{`Entrypoint[0] "/bin/pdvol": /bin: not found in rootfs`},
		},
		{
			name:    "unknown interface type",
			config:  withConfig(`"docker.volumedriver/1.0"`, `"docker.foodriver/1.0"`),
			rootfs:  true,
			wantDir: []string{`Interface.Types[0] "docker.foodriver/1.0": unknown capability "foodriver"`},
			dirCode: http.StatusBadRequest,
			wantAPI: []string{`Interface.Types[0] "docker.foodriver/1.0": unknown capability "foodriver"`},
		},
		{
			name:    "socket name with slash",
			config:  withConfig(`"socket": "pdvol.sock"`, `"socket": "a/pdvol.sock"`),
			rootfs:  true,
			wantDir: []string{`Interface.Socket "a/pdvol.sock": must be a plain file name, not a path`},
			dirCode: http.StatusBadRequest,
			wantAPI: []string{`Interface.Socket "a/pdvol.sock": must be a plain file name, not a path`},
		},
		{
			name:    "socket name dot-dot",
			config:  withConfig(`"socket": "pdvol.sock"`, `"socket": ".."`),
			rootfs:  true,
			wantDir: []string{`Interface.Socket "..": must be a plain file name`},
			dirCode: http.StatusBadRequest,
			wantAPI: []string{`Interface.Socket "..": must be a plain file name`},
		},
	}
	for _, c := range configs {
		tests = append(tests,
			testCase{name: c.name + " (dir)", do: func(t *testing.T) result {
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), c.config, 0o644))
				if c.rootfs {
					require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
					require.NoError(t, os.WriteFile(filepath.Join(dir, "rootfs", "pdvol"), volBin, 0o755))
				}
				return result{d.client.CreateFromDir(testCtx(t), "bad", dir), c.wantDir, c.dirCode}
			}},
			testCase{name: c.name + " (API)", do: func(t *testing.T) result {
				entries := []tarEntry{{name: "config.json", body: c.config}}
				if c.rootfs {
					entries = append(entries, tarEntry{name: "rootfs/", typ: tar.TypeDir},
						tarEntry{name: "rootfs/pdvol", body: volBin, mode: 0o755})
				}
				return result{d.client.Create(testCtx(t), "bad", tarOf(t, entries...)), c.wantAPI, http.StatusBadRequest}
			}},
		)
	}

	// Raw tars that try to write outside the plugin's rootfs.
	valid := []tarEntry{
		{name: "config.json", body: volConfig},
		{name: "rootfs/", typ: tar.TypeDir},
		{name: "rootfs/pdvol", body: volBin, mode: 0o755},
	}
	escapes := []struct {
		name    string
		entries []tarEntry
		wantErr []string
	}{
		{
			name:    "dot-dot entry",
			entries: []tarEntry{{name: "../" + evil, body: []byte("x")}},
			wantErr: []string{`tar entry "../` + evil + `": path leaves the archive (..)`},
		},
		{
			name:    "dot-dot inside rootfs",
			entries: []tarEntry{{name: "rootfs/../../" + evil, body: []byte("x")}},
			wantErr: []string{`tar entry "rootfs/../../` + evil + `": path leaves the archive (..)`},
		},
		{
			name:    "absolute entry",
			entries: []tarEntry{{name: "/etc/" + evil, body: []byte("x")}},
			wantErr: []string{`tar entry "/etc/` + evil + `": absolute path`},
		},
		{
			name: "write through absolute symlink",
			entries: []tarEntry{
				{name: "rootfs/link", typ: tar.TypeSymlink, link: "/etc"},
				{name: "rootfs/link/" + evil, body: []byte("x")},
			},
			wantErr: []string{`tar entry "rootfs/link/` + evil + `": `, "escapes"},
		},
		{
			name: "write through relative symlink",
			entries: []tarEntry{
				{name: "rootfs/link", typ: tar.TypeSymlink, link: "../../../../../../../../../../tmp"},
				{name: "rootfs/link/" + evil, body: []byte("x")},
			},
			wantErr: []string{`tar entry "rootfs/link/` + evil + `": `, "escapes"},
		},
		{
			name:    "hard link outside rootfs",
			entries: []tarEntry{{name: "rootfs/passwd", typ: tar.TypeLink, link: "/etc/passwd"}},
			wantErr: []string{`tar entry "rootfs/passwd": tar entry "/etc/passwd": absolute path`},
		},
		{
			name:    "hard link to config.json",
			entries: []tarEntry{{name: "rootfs/cfg", typ: tar.TypeLink, link: "config.json"}},
			wantErr: []string{`tar entry "rootfs/cfg": hard link to "config.json" outside rootfs`},
		},
		{
			name:    "device node",
			entries: []tarEntry{{name: "rootfs/mem", typ: tar.TypeChar}},
			wantErr: []string{`tar entry "rootfs/mem": device and fifo entries are not supported`},
		},
		{
			name:    "entry type not unpacked",
			entries: []tarEntry{{name: "rootfs/dump", typ: 'D'}},
			wantErr: []string{`tar entry "rootfs/dump": entry type 'D' is not supported`},
		},
	}
	for _, e := range escapes {
		tests = append(tests, testCase{name: e.name, do: func(t *testing.T) result {
			body := tarOf(t, append(append([]tarEntry(nil), valid...), e.entries...)...)
			return result{d.client.Create(testCtx(t), "bad", body), e.wantErr, http.StatusBadRequest}
		}})
	}

	// Refused operations on existing plugins.
	ops := []struct {
		name       string
		do         func(t *testing.T) error
		wantErr    string
		wantStatus int
	}{
		{
			name:       "empty build context",
			do:         func(t *testing.T) error { return d.client.Create(testCtx(t), "bad", tarOf(t)) },
			wantErr:    "config not found",
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "duplicate name",
			do:         func(t *testing.T) error { return d.client.CreateFromDir(testCtx(t), "vol", pluginDir("volume")) },
			wantErr:    "plugin vol:latest already exists",
			wantStatus: http.StatusConflict,
		},
		{
			name:       "invalid name",
			do:         func(t *testing.T) error { return d.client.CreateFromDir(testCtx(t), "Bad Name", pluginDir("volume")) },
			wantErr:    `invalid plugin name "Bad Name"`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "name with digest",
			do: func(t *testing.T) error {
				return d.client.CreateFromDir(testCtx(t), "foo@sha256:"+strings.Repeat("ab", 32), pluginDir("volume"))
			},
			wantErr:    "canonical references cannot be resolved",
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "set unknown key",
			do:         func(t *testing.T) error { return d.client.Set(testCtx(t), "vol", []string{"NOPE=1"}) },
			wantErr:    `setting "NOPE" not found in the plugin configuration`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "set unsettable field",
			do:         func(t *testing.T) error { return d.client.Set(testCtx(t), "vol", []string{"DEBUG.source=/x"}) },
			wantErr:    `"DEBUG.source" is not settable`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "set with one bad of two",
			do: func(t *testing.T) error {
				return d.client.Set(testCtx(t), "vol", []string{"DEBUG=1", "NOPE=1"})
			},
			wantErr:    `setting "NOPE" not found in the plugin configuration`,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "set bad format",
			do:         func(t *testing.T) error { return d.client.Set(testCtx(t), "vol", []string{"=1"}) },
			wantErr:    "invalid format, must be <name>[.<field>][=<value>]",
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "set while enabled",
			do:         func(t *testing.T) error { return d.client.Set(testCtx(t), "run", []string{"DEBUG=1"}) },
			wantErr:    "cannot set on an active plugin, disable plugin before setting",
			wantStatus: http.StatusConflict,
		},
		{
			name:       "enable enabled",
			do:         func(t *testing.T) error { return d.client.Enable(testCtx(t), "run", 0) },
			wantErr:    "plugin already enabled: plugin run:latest is enabled",
			wantStatus: http.StatusConflict,
		},
		{
			name:       "disable disabled",
			do:         func(t *testing.T) error { return d.client.Disable(testCtx(t), "vol", false) },
			wantErr:    "plugin is already disabled: plugin vol:latest found but disabled",
			wantStatus: http.StatusConflict,
		},
		{
			name:       "remove enabled without force",
			do:         func(t *testing.T) error { return d.client.Remove(testCtx(t), "run", false) },
			wantErr:    "plugin run:latest is enabled",
			wantStatus: http.StatusConflict,
		},
		{
			name:       "remove unknown",
			do:         func(t *testing.T) error { return d.client.Remove(testCtx(t), "nope", true) },
			wantErr:    `plugin "nope" not found`,
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "enable unknown",
			do:         func(t *testing.T) error { return d.client.Enable(testCtx(t), "nope", 0) },
			wantErr:    `plugin "nope" not found`,
			wantStatus: http.StatusNotFound,
		},
	}
	for _, o := range ops {
		tests = append(tests, testCase{name: o.name, do: func(t *testing.T) result {
			return result{o.do(t), []string{o.wantErr}, o.wantStatus}
		}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.storeSnapshot(t)
			r := tt.do(t)
			require.Error(t, r.err)
			t.Logf("error: %v", r.err)
			for _, want := range r.wantErr {
				assert.Contains(t, r.err.Error(), want)
			}
			var ce *client.Error
			if r.wantStatus == 0 {
				assert.False(t, errors.As(r.err, &ce), "the client should refuse before asking the daemon: %v", r.err)
			} else if assert.ErrorAs(t, r.err, &ce) {
				assert.Equal(t, r.wantStatus, ce.Status)
			}
			assert.Equal(t, before, d.storeSnapshot(t), "store changed")
			for _, p := range evilPaths {
				assert.NoFileExists(t, p)
			}
			assertNoFileNamed(t, d.dir, evil)
		})
	}

	// The plugins went through all of that unharmed.
	p := d.inspect(t, "run")
	assert.Equal(t, run.State.Pid, p.State.Pid)
	assert.Equal(t, "running", p.State.Status)
	assert.Equal(t, []string{"DEBUG=0"}, p.Settings.Env)
	assert.Equal(t, []string{"DEBUG=0"}, d.inspect(t, "vol").Settings.Env)
	list, err := d.client.List(testCtx(t), client.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list, 2)
}

type tarEntry struct {
	name string
	typ  byte // tar.TypeReg when zero
	body []byte
	link string
	mode int64
}

// tarOf builds a tar stream of entries, in order.
func tarOf(t *testing.T, entries ...tarEntry) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write(e.body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return bytes.NewReader(buf.Bytes())
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// assertNoFileNamed checks that nothing under dir is called name.
func assertNoFileNamed(t *testing.T, dir, name string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Name() == name {
			assert.Failf(t, "file written outside the rootfs", "%s", p)
		}
		return nil
	})
}
