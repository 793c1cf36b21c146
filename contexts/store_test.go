package contexts

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDIsSHA256OfTheName(t *testing.T) {
	// docker's documented example (docs/reference/commandline/context_inspect.md).
	assert.Equal(t, "cb6d08c0a1bfa5fe6f012e61a442788c00bed93f509141daff05f620fc54ddee", id("local+aks"))
	sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("no sha256sum")
	}
	for _, name := range []string{"remote", "a.b_c+d-e", "ZZ9"} {
		out, err := exec.Command("sh", "-c", `printf %s "$1" | "$2"`, "sh", name, sum).Output()
		require.NoError(t, err)
		hex, _, _ := strings.Cut(string(out), " ")
		assert.Equal(t, hex, id(name), name)
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"remote", true},
		{"a1", true},
		{"9.prod_eu+1-b", true},
		{strings.Repeat("a", MaxNameLen), true},
		{"", false},
		{"a", false}, // two characters or more
		{"default", false},
		{"-remote", false},
		{".remote", false},
		{"re mote", false},
		{"re/mote", false},
		{"../x", false},
		{"rémote", false},
		{strings.Repeat("a", MaxNameLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidName)
		})
	}
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestCreateGetRoundTrip(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "cfg"))
	src := t.TempDir()
	e := Endpoint{
		Host: "tcp://daemon.example:2376", TLS: true,
		CAFile:   writeFile(t, src, "my-ca.crt", "CA"),
		CertFile: writeFile(t, src, "me.crt", "CERT"),
		KeyFile:  writeFile(t, src, "me.key", "KEY"),
	}
	require.NoError(t, s.Create("remote", "the remote one", e))

	metaPath := filepath.Join(s.Dir(), "contexts", "meta", id("remote"), "meta.json")
	b, err := os.ReadFile(metaPath)
	require.NoError(t, err)
	assert.Equal(t, `{"Name":"remote","Metadata":{"Description":"the remote one"},"Endpoints":{"plugdbg":{"Host":"tcp://daemon.example:2376","SkipTLSVerify":false}}}`, string(b))

	c, err := s.Get("remote")
	require.NoError(t, err)
	assert.Equal(t, "remote", c.Name)
	assert.Equal(t, "the remote one", c.Description)
	assert.Equal(t, "tcp://daemon.example:2376", c.Host)
	assert.False(t, c.SkipTLSVerify)
	tlsDir := filepath.Join(s.Dir(), "contexts", "tls", id("remote"), "plugdbg")
	assert.Equal(t, TLSFiles{CA: filepath.Join(tlsDir, "ca.pem"), Cert: filepath.Join(tlsDir, "cert.pem"), Key: filepath.Join(tlsDir, "key.pem")}, c.TLS)
	for p, want := range map[string]string{c.TLS.CA: "CA", c.TLS.Cert: "CERT", c.TLS.Key: "KEY"} {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	got := c.Endpoint()
	assert.True(t, got.UsesTLS())
	assert.Equal(t, c.TLS.CA, got.CAFile)

	assert.Equal(t, StorageInfo{MetadataPath: filepath.Dir(metaPath), TLSPath: filepath.Dir(tlsDir)}, s.StorageInfo("remote"))
}

func TestCreateWithoutTLS(t *testing.T) {
	s := NewStore(t.TempDir())
	// TLS files of a unix host are not used, so not copied.
	require.NoError(t, s.Create("local", "", Endpoint{Host: "unix:///run/x.sock", TLS: true, CAFile: "/nonexistent/ca.pem"}))
	c, err := s.Get("local")
	require.NoError(t, err)
	assert.Equal(t, TLSFiles{}, c.TLS)
	assert.False(t, c.Endpoint().TLS)
	assert.NoDirExists(t, s.StorageInfo("local").TLSPath)
	assert.JSONEq(t, `{"Name":"local","Metadata":{},"Endpoints":{"plugdbg":{"Host":"unix:///run/x.sock","SkipTLSVerify":false}}}`, string(c.Object()))

	// --tls without --tlsverify is kept as SkipTLSVerify, and reads back
	// as TLS though there are no files (docker's reading).
	require.NoError(t, s.Create("insecure", "", Endpoint{Host: "tcp://h:2376", TLS: true, SkipTLSVerify: true}))
	c, err = s.Get("insecure")
	require.NoError(t, err)
	assert.True(t, c.SkipTLSVerify)
	assert.True(t, c.Endpoint().UsesTLS())
	assert.True(t, c.Endpoint().SkipTLSVerify)
}

func TestCreateErrors(t *testing.T) {
	s := NewStore(t.TempDir())
	require.NoError(t, s.Create("remote", "", Endpoint{Host: "ssh://me@h"}))
	assert.ErrorIs(t, s.Create("remote", "", Endpoint{Host: "ssh://me@h2"}), ErrExists)
	assert.ErrorIs(t, s.Create("default", "", Endpoint{Host: "ssh://me@h"}), ErrInvalidName)
	assert.ErrorIs(t, s.Create("x y", "", Endpoint{Host: "ssh://me@h"}), ErrInvalidName)

	// A TLS file that is missing or too large fails the create, naming it,
	// and leaves nothing behind.
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644))
	for _, e := range []Endpoint{
		{Host: "tcp://h:2376", TLS: true, CAFile: filepath.Join(dir, "missing.pem"), labels: [3]string{"--tlscacert"}},
		{Host: "tcp://h:2376", TLS: true, CAFile: big, labels: [3]string{"--tlscacert"}},
	} {
		err := s.Create("tls", "", e)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "--tlscacert")
		assert.Contains(t, err.Error(), e.CAFile)
		assert.NoDirExists(t, s.StorageInfo("tls").MetadataPath)
		assert.NoDirExists(t, s.StorageInfo("tls").TLSPath)
	}
}

func TestUnknownFieldsRoundTrip(t *testing.T) {
	s := NewStore(t.TempDir())
	dir := s.StorageInfo("old").MetadataPath
	require.NoError(t, os.MkdirAll(dir, 0o755))
	in := `{
		"Name": "old",
		"Future": {"a": [1, 2]},
		"Metadata": {"Description": "d", "Owner": "ops", "n": 1.5},
		"Endpoints": {
			"docker": {"Host": "unix:///var/run/docker.sock", "SkipTLSVerify": false},
			"plugdbg": {"Host": "ssh://me@h", "SkipTLSVerify": true, "Proxy": "jump"}
		}
	}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"), []byte(in), 0o644))
	c, err := s.Get("old")
	require.NoError(t, err)
	assert.Equal(t, "d", c.Description)
	assert.Equal(t, "ssh://me@h", c.Host)
	assert.True(t, c.SkipTLSVerify)
	assert.JSONEq(t, in, string(c.Object()))

	// A copy keeps every member, with its own name and description.
	require.NoError(t, s.Copy("old", "new", "copied"))
	b, err := os.ReadFile(filepath.Join(s.StorageInfo("new").MetadataPath, "meta.json"))
	require.NoError(t, err)
	want := strings.Replace(strings.Replace(in, `"Name": "old"`, `"Name": "new"`, 1), `"Description": "d"`, `"Description": "copied"`, 1)
	assert.JSONEq(t, want, string(b))
	assert.True(t, strings.HasPrefix(string(b), `{"Name":"new","Metadata":{"Description":"copied",`), "docker's member order: %s", b)
}

func TestReadIsCaseInsensitiveAsDocker(t *testing.T) {
	s := NewStore(t.TempDir())
	dir := s.StorageInfo("lower").MetadataPath
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"),
		[]byte(`{"name":"lower","metadata":{"description":"d"},"endpoints":{"plugdbg":{"host":"ssh://h","skipTLSVerify":false}}}`), 0o644))
	c, err := s.Get("lower")
	require.NoError(t, err)
	assert.Equal(t, "d", c.Description)
	assert.Equal(t, "ssh://h", c.Host)
	assert.JSONEq(t, `{"Name":"lower","Metadata":{"Description":"d"},"Endpoints":{"plugdbg":{"Host":"ssh://h","SkipTLSVerify":false}}}`, string(c.Object()))

	// The exact name wins over one that differs in case, which stays as
	// an unknown member.
	c, err = decodeMeta([]byte(`{"name":"other","Name":"exact","NAME":"third"}`))
	require.NoError(t, err)
	assert.Equal(t, "exact", c.Name)
	assert.JSONEq(t, `{"name":"other","NAME":"third","Name":"exact","Metadata":{},"Endpoints":{"plugdbg":{"SkipTLSVerify":false}}}`, string(c.Object()))
}

func TestGetErrors(t *testing.T) {
	s := NewStore(t.TempDir())
	_, err := s.Get("nope")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.EqualError(t, err, `context "nope" does not exist`)
	_, err = s.Get("default")
	assert.ErrorIs(t, err, ErrInvalidName)

	write := func(name, content string) string {
		dir := s.StorageInfo(name).MetadataPath
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p := filepath.Join(dir, "meta.json")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	p := write("broken", `{"Name":`)
	_, err = s.Get("broken")
	assert.ErrorContains(t, err, p)
	write("other", `{"Name":"someone-else"}`)
	_, err = s.Get("other")
	assert.ErrorContains(t, err, `holds context "someone-else"`)
	p = write("huge", `{"Name":"huge","X":"`+strings.Repeat("x", MaxFileSize)+`"}`)
	_, err = s.Get("huge")
	assert.ErrorContains(t, err, p)
	assert.ErrorContains(t, err, "larger than 1 MiB")
}

func TestList(t *testing.T) {
	s := NewStore(t.TempDir())
	list, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, list, "no store yet")
	for _, n := range []string{"zeta", "alpha", "mid"} {
		require.NoError(t, s.Create(n, n+" desc", Endpoint{Host: "ssh://" + n}))
	}
	// A directory without meta.json (a create that crashed) is no context.
	require.NoError(t, os.MkdirAll(filepath.Join(s.Dir(), "contexts", "meta", id("ghost")), 0o755))
	list, err = s.List()
	require.NoError(t, err)
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
		assert.Equal(t, c.Name+" desc", c.Description)
	}
	assert.Equal(t, []string{"alpha", "mid", "zeta"}, names)
}

func TestRemove(t *testing.T) {
	s := NewStore(t.TempDir())
	src := t.TempDir()
	require.NoError(t, s.Create("remote", "", Endpoint{Host: "tcp://h:1", TLS: true, CAFile: writeFile(t, src, "ca", "CA")}))
	info := s.StorageInfo("remote")
	require.DirExists(t, info.TLSPath)
	require.NoError(t, s.Remove("remote"))
	assert.NoDirExists(t, info.MetadataPath)
	assert.NoDirExists(t, info.TLSPath)
	assert.ErrorIs(t, s.Remove("remote"), ErrNotFound)
	assert.ErrorIs(t, s.Remove("default"), ErrInvalidName)
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	s := NewStore(filepath.Join(t.TempDir(), "cfg"))
	src := t.TempDir()
	require.NoError(t, s.Create("remote", "", Endpoint{Host: "tcp://h:1", TLS: true,
		CAFile: writeFile(t, src, "ca", "CA"), CertFile: writeFile(t, src, "c", "C"), KeyFile: writeFile(t, src, "k", "K")}))
	require.NoError(t, s.SetCurrent("remote"))
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}
	tlsDir := s.StorageInfo("remote").TLSPath
	assert.Equal(t, os.FileMode(0o700), mode(s.Dir()), "config dir")
	assert.Equal(t, os.FileMode(0o700), mode(tlsDir))
	assert.Equal(t, os.FileMode(0o700), mode(filepath.Join(tlsDir, "plugdbg")))
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		assert.Equal(t, os.FileMode(0o600), mode(filepath.Join(tlsDir, "plugdbg", f)), f)
	}
	assert.Equal(t, os.FileMode(0o644), mode(filepath.Join(s.StorageInfo("remote").MetadataPath, "meta.json")))
	assert.Equal(t, os.FileMode(0o600), mode(filepath.Join(s.Dir(), "config.json")))
}

func TestCurrent(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "cfg"))
	cur, err := s.Current()
	require.NoError(t, err)
	assert.Equal(t, "", cur)

	// Choosing the default with no config.json creates nothing.
	require.NoError(t, s.SetCurrent("default"))
	assert.NoFileExists(t, filepath.Join(s.Dir(), "config.json"))

	assert.ErrorIs(t, s.SetCurrent("nope"), ErrNotFound)
	assert.ErrorIs(t, s.SetCurrent("bad name"), ErrInvalidName)

	require.NoError(t, os.MkdirAll(s.Dir(), 0o700))
	cfg := filepath.Join(s.Dir(), "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"auths":{"r.example":{"auth":"eA=="}},"detachKeys":"ctrl-x","n":[1,{"a":null}]}`), 0o600))
	require.NoError(t, s.Create("remote", "", Endpoint{Host: "ssh://h"}))
	require.NoError(t, s.SetCurrent("remote"))
	cur, err = s.Current()
	require.NoError(t, err)
	assert.Equal(t, "remote", cur)
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"auths":{"r.example":{"auth":"eA=="}},"detachKeys":"ctrl-x","n":[1,{"a":null}],"currentContext":"remote"}`, string(b))

	require.NoError(t, s.SetCurrent("default"))
	b, err = os.ReadFile(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"auths":{"r.example":{"auth":"eA=="}},"detachKeys":"ctrl-x","n":[1,{"a":null}]}`, string(b))

	require.NoError(t, os.WriteFile(cfg, []byte(`{"currentContext":`), 0o600))
	_, err = s.Current()
	assert.ErrorContains(t, err, cfg)
}

// TestAtomicWrite: a write that fails leaves the old file whole and no
// temporary file; one that succeeds leaves only the new file.
func TestAtomicWrite(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, n := range []string{"one", "two"} {
		require.NoError(t, s.Create(n, "", Endpoint{Host: "ssh://h"}))
	}
	require.NoError(t, s.SetCurrent("one"))
	cfg := filepath.Join(s.Dir(), "config.json")
	before, err := os.ReadFile(cfg)
	require.NoError(t, err)

	failure := errors.New("disk on fire")
	rename = func(string, string) error { return failure }
	t.Cleanup(func() { rename = os.Rename })
	assert.ErrorIs(t, s.SetCurrent("two"), failure)
	after, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	assert.ErrorIs(t, s.Create("three", "", Endpoint{Host: "ssh://h"}), failure)
	_, err = s.Get("three")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NoDirExists(t, s.StorageInfo("three").MetadataPath)

	rename = os.Rename
	require.NoError(t, s.SetCurrent("two"))
	var names []string
	err = filepath.WalkDir(s.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(s.Dir(), p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"config.json", "contexts/meta/" + id("one") + "/meta.json", "contexts/meta/" + id("two") + "/meta.json"}, names,
		"no temporary file left")
	var o map[string]any
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &o))
	assert.Equal(t, "two", o["currentContext"])
}

func TestConfigDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	d, err := ConfigDir(env(map[string]string{EnvConfig: "/etc/x"}))
	require.NoError(t, err)
	assert.Equal(t, "/etc/x", d)
	if ucd, err := os.UserConfigDir(); err == nil {
		d, err := ConfigDir(env(nil))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(ucd, "plugdbg"), d)
	}
}
