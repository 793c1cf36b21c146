package distribution_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/plugin"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugdbg/plugdbg/internal/testregistry"
	"github.com/plugdbg/plugdbg/runtime/distribution"
)

var noAuth = registrytypes.AuthConfig{}

func newRegistry() *distribution.Registry {
	return distribution.New(distribution.Options{Retries: -1})
}

const testConfig = `{"Description":"test plugin","Entrypoint":["/bin/plugin"],
 "Interface":{"Types":["docker.volumedriver/1.0"],"Socket":"t.sock"},
 "Network":{"Type":"host"},"Linux":{"Capabilities":["CAP_SYS_ADMIN"]}}`

// makeRootfs builds a small plugin rootfs.
func makeRootfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc", "empty"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "plugin"), []byte("#!/bin/true\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc", "conf"), bytes.Repeat([]byte("x"), 100<<10), 0o640))
	require.NoError(t, os.Link(filepath.Join(dir, "etc", "conf"), filepath.Join(dir, "etc", "conf2")))
	require.NoError(t, os.Symlink("/etc/conf", filepath.Join(dir, "bin", "link")))
	return dir
}

// tree lists a directory: path -> mode and content or link target.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		require.NoError(t, err)
		v := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			v += " -> " + target
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:8])
		}
		out[rel] = v
		return nil
	}))
	return out
}

func parseConfig(t *testing.T) plugin.Config {
	t.Helper()
	var c plugin.Config
	require.NoError(t, json.Unmarshal([]byte(testConfig), &c))
	return c
}

func pull(t *testing.T, g *distribution.Registry, remote string, auth registrytypes.AuthConfig) (*distribution.Image, string, error) {
	t.Helper()
	ref, err := g.ParseRef(remote)
	require.NoError(t, err)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	require.NoError(t, os.Mkdir(rootfs, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	im, err := g.Fetch(ctx, ref, auth)
	if err != nil {
		return nil, rootfs, err
	}
	return im, rootfs, im.Unpack(rootfs, dir, nil)
}

func TestPushPullRoundTrip(t *testing.T) {
	host, _ := testregistry.Start(t, nil)
	g := newRegistry()
	src := makeRootfs(t)
	ref, err := g.ParseRef(host + "/plugins/test:v1")
	require.NoError(t, err)
	var events []distribution.Event
	res, err := g.Push(context.Background(), ref, src, parseConfig(t), t.TempDir(), noAuth, func(e distribution.Event) {
		events = append(events, e)
	})
	require.NoError(t, err)
	assert.Equal(t, "v1", res.Tag)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, res.Digest)
	assert.Equal(t, "The push refers to repository ["+host+"/plugins/test]", events[0].Status)
	assert.Equal(t, "v1: digest: "+res.Digest+" size: "+strconv.Itoa(res.Size), events[len(events)-1].Status)

	// The registry holds Docker's plugin image shape.
	desc, err := remote.Get(mustRef(t, host+"/plugins/test:v1"))
	require.NoError(t, err)
	assert.Equal(t, types.DockerManifestSchema2, desc.MediaType)
	assert.Equal(t, res.Digest, desc.Digest.String())
	var m v1.Manifest
	require.NoError(t, json.Unmarshal(desc.Manifest, &m))
	assert.Equal(t, types.MediaType(distribution.MediaTypePluginConfig), m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.DockerLayer, m.Layers[0].MediaType)

	var events2 []distribution.Event
	ref2, _ := g.ParseRef(host + "/plugins/test:v1")
	im, err := g.Fetch(context.Background(), ref2, noAuth)
	require.NoError(t, err)
	assert.Equal(t, res.Digest, im.Digest)
	assert.Equal(t, "test plugin", im.Config.Description)
	require.NotNil(t, im.Config.Rootfs)
	assert.Len(t, im.Config.Rootfs.DiffIds, 1)
	assert.NotEqual(t, m.Layers[0].Digest.String(), im.Config.Rootfs.DiffIds[0], "push records the uncompressed digest")
	dst := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.Mkdir(dst, 0o755))
	require.NoError(t, im.Unpack(dst, filepath.Dir(dst), func(e distribution.Event) { events2 = append(events2, e) }))
	assert.Equal(t, tree(t, src), tree(t, dst))
	a, _ := os.Stat(filepath.Join(dst, "etc", "conf"))
	b, _ := os.Stat(filepath.Join(dst, "etc", "conf2"))
	assert.True(t, os.SameFile(a, b), "hard link kept")
	entries, _ := os.ReadDir(filepath.Dir(dst))
	assert.Len(t, entries, 1, "the downloaded blob is removed after unpacking")

	// By digest, with a tag for the local name.
	byDigest, rootfs, err := pull(t, g, host+"/plugins/test:local@"+res.Digest, noAuth)
	require.NoError(t, err)
	assert.Equal(t, res.Digest, byDigest.Digest)
	assert.Equal(t, host+"/plugins/test:local", byDigest.Ref.LocalName())
	assert.Equal(t, tree(t, src), tree(t, rootfs))

	var statuses []string
	for _, e := range events2 {
		statuses = append(statuses, e.Status)
	}
	assert.Equal(t, "Pulling from "+host+"/plugins/test", statuses[0])
	assert.Contains(t, statuses, "Download complete")
	assert.Contains(t, statuses, "Pull complete")
	assert.Equal(t, "Digest: "+res.Digest, statuses[len(statuses)-1])
}

// tarEntry is one entry of a hand-made layer.
type tarEntry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body))}
		if e.typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// image is a hand-made plugin image: tars are the uncompressed layers,
// pushed gzipped; diffIDs defaults to their uncompressed digests.
type image struct {
	config    string // raw config without rootfs; testConfig if empty
	tars      [][]byte
	diffIDs   []string
	cfgType   string
	noRootfs  bool
	rawConfig []byte // used as is when set
}

// put pushes im under host/repo:tag with go-containerregistry directly and
// returns the gzip blobs' digests.
func put(t *testing.T, host, ref string, im image) []string {
	t.Helper()
	repo, err := name.NewRepository(host + "/" + strings.Split(ref, ":")[0])
	require.NoError(t, err)
	var descs []v1.Descriptor
	var blobDigests, uncompressed []string
	for _, tb := range im.tars {
		blob := gz(t, tb)
		l := static.NewLayer(blob, types.DockerLayer)
		require.NoError(t, remote.WriteLayer(repo, l))
		d, _ := l.Digest()
		descs = append(descs, v1.Descriptor{MediaType: types.DockerLayer, Digest: d, Size: int64(len(blob))})
		blobDigests = append(blobDigests, d.String())
		uncompressed = append(uncompressed, digestOf(tb))
	}
	raw := im.rawConfig
	if raw == nil {
		cfg := map[string]any{}
		src := im.config
		if src == "" {
			src = testConfig
		}
		require.NoError(t, json.Unmarshal([]byte(src), &cfg))
		if !im.noRootfs {
			ids := im.diffIDs
			if ids == nil {
				ids = uncompressed
			}
			cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": ids}
		}
		raw, err = json.Marshal(cfg)
		require.NoError(t, err)
	}
	ct := im.cfgType
	if ct == "" {
		ct = distribution.MediaTypePluginConfig
	}
	cl := static.NewLayer(raw, types.MediaType(ct))
	require.NoError(t, remote.WriteLayer(repo, cl))
	cd, _ := cl.Digest()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.MediaType(ct), Digest: cd, Size: int64(len(raw))}, Layers: descs}
	mb, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, remote.Put(mustRef(t, host+"/"+ref), rawManifest(mb)))
	return blobDigests
}

type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error) { return m, nil }

var pluginBin = tarEntry{name: "bin/plugin", body: "#!/bin/true\n", typ: tar.TypeReg, mode: 0o755}

func TestDiffIDs(t *testing.T) {
	host, _ := testregistry.Start(t, nil)
	g := newRegistry()
	layer := makeTar(t, tarEntry{name: "bin/", typ: tar.TypeDir, mode: 0o755}, pluginBin)
	blob := gz(t, layer)
	tests := []struct {
		name    string
		diffIDs []string
		noRoot  bool
		wantErr string
	}{
		{name: "uncompressed digest (Docker 19.03 and earlier)", diffIDs: []string{digestOf(layer)}},
		{name: "compressed digest (docker plugin create since 20.10)", diffIDs: []string{digestOf(blob)}},
		{name: "wrong digest", diffIDs: []string{digestOf([]byte("other"))}, wantErr: "layers from manifest don't match image configuration: layer 0"},
		{name: "too many diff_ids", diffIDs: []string{digestOf(layer), digestOf(layer)}, wantErr: "rootfs.diff_ids has 2 entries for 1 layers"},
		{name: "no rootfs", noRoot: true, wantErr: "rootfs.diff_ids has 0 entries for 1 layers"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "p" + strconv.Itoa(i) + ":latest"
			put(t, host, ref, image{tars: [][]byte{layer}, diffIDs: tt.diffIDs, noRootfs: tt.noRoot})
			_, rootfs, err := pull(t, g, host+"/"+ref, noAuth)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.ErrorIs(t, err, distribution.ErrLayersMismatch)
				return
			}
			require.NoError(t, err)
			assert.FileExists(t, filepath.Join(rootfs, "bin", "plugin"))
		})
	}
}

func TestHostileLayers(t *testing.T) {
	host, _ := testregistry.Start(t, nil)
	g := newRegistry()
	outside := t.TempDir() // what an escaping entry would reach
	tests := []struct {
		name    string
		entries []tarEntry
		wantErr string
		check   func(t *testing.T, rootfs string)
	}{
		{
			name:    "dot-dot path",
			entries: []tarEntry{pluginBin, {name: "../../../../" + outside[1:] + "/evil", body: "x", typ: tar.TypeReg}},
			wantErr: "path leaves the archive",
		},
		{
			name:    "absolute path",
			entries: []tarEntry{pluginBin, {name: outside + "/evil", body: "x", typ: tar.TypeReg}},
			wantErr: "absolute path",
		},
		{
			name: "write through a symlink to an absolute path",
			entries: []tarEntry{pluginBin, {name: "escape", link: outside, typ: tar.TypeSymlink},
				{name: "escape/evil", body: "x", typ: tar.TypeReg}},
			wantErr: "path escapes from parent",
		},
		{
			name: "write through a symlink climbing out",
			entries: []tarEntry{pluginBin, {name: "up", link: "../../../../../../../../" + outside[1:], typ: tar.TypeSymlink},
				{name: "up/evil", body: "x", typ: tar.TypeReg}},
			wantErr: "path escapes from parent",
		},
		{
			name:    "hard link to a file outside",
			entries: []tarEntry{pluginBin, {name: "hl", link: "../../../../" + outside[1:] + "/target", typ: tar.TypeLink}},
			wantErr: "path leaves the archive",
		},
		{
			name: "hard link through a symlink leading outside",
			entries: []tarEntry{pluginBin, {name: "escape", link: outside, typ: tar.TypeSymlink},
				{name: "hl", link: "escape/target", typ: tar.TypeLink}},
			wantErr: "path escapes from parent",
		},
		{
			name: "symlink replaced by a directory, then written into",
			entries: []tarEntry{pluginBin, {name: "d", link: outside, typ: tar.TypeSymlink},
				{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/f", body: "x", typ: tar.TypeReg}},
			check: func(t *testing.T, rootfs string) {
				st, err := os.Lstat(filepath.Join(rootfs, "d"))
				require.NoError(t, err)
				assert.True(t, st.IsDir(), "the directory replaced the symlink")
				assert.FileExists(t, filepath.Join(rootfs, "d", "f"))
			},
		},
		{
			name: "whiteout through a symlink",
			entries: []tarEntry{pluginBin, {name: "escape", link: outside, typ: tar.TypeSymlink},
				{name: "escape/.wh.target", typ: tar.TypeReg}},
			wantErr: "path escapes from parent",
		},
		{
			name:    "device node is left out",
			entries: []tarEntry{pluginBin, {name: "dev/mem", typ: tar.TypeChar, mode: 0o666}},
			check: func(t *testing.T, rootfs string) {
				assert.NoFileExists(t, filepath.Join(rootfs, "dev", "mem"))
			},
		},
		{
			name:    "fifo is left out",
			entries: []tarEntry{pluginBin, {name: "fifo", typ: tar.TypeFifo}},
			check: func(t *testing.T, rootfs string) {
				_, err := os.Lstat(filepath.Join(rootfs, "fifo"))
				assert.ErrorIs(t, err, fs.ErrNotExist)
			},
		},
		{
			name:    "dangling absolute symlink stays a symlink",
			entries: []tarEntry{pluginBin, {name: "etc/passwd", link: "/etc/shadow", typ: tar.TypeSymlink}},
			check: func(t *testing.T, rootfs string) {
				target, err := os.Readlink(filepath.Join(rootfs, "etc", "passwd"))
				require.NoError(t, err)
				assert.Equal(t, "/etc/shadow", target)
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(filepath.Join(outside, "target"), []byte("keep"), 0o644))
			ref := "hostile" + strconv.Itoa(i) + ":latest"
			put(t, host, ref, image{tars: [][]byte{makeTar(t, tt.entries...)}})
			_, rootfs, err := pull(t, g, host+"/"+ref, noAuth)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
				tt.check(t, rootfs)
			}
			names, _ := os.ReadDir(outside)
			require.Len(t, names, 1, "nothing written outside the rootfs")
			b, _ := os.ReadFile(filepath.Join(outside, "target"))
			assert.Equal(t, "keep", string(b))
		})
	}
}

func TestWhiteouts(t *testing.T) {
	host, _ := testregistry.Start(t, nil)
	g := newRegistry()
	lower := makeTar(t, pluginBin,
		tarEntry{name: "a/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "a/gone", body: "1", typ: tar.TypeReg},
		tarEntry{name: "a/stays", body: "1", typ: tar.TypeReg},
		tarEntry{name: "o/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "o/old1", body: "1", typ: tar.TypeReg},
		tarEntry{name: "o/sub/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "o/sub/old2", body: "1", typ: tar.TypeReg},
		tarEntry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "d/x", body: "1", typ: tar.TypeReg},
		tarEntry{name: "f", body: "file", typ: tar.TypeReg},
	)
	upper := makeTar(t,
		tarEntry{name: "a/.wh.gone", typ: tar.TypeReg},
		tarEntry{name: "o/new", body: "2", typ: tar.TypeReg}, // before the marker: must survive it
		tarEntry{name: "o/.wh..wh..opq", typ: tar.TypeReg},
		tarEntry{name: ".wh.d", typ: tar.TypeReg},
		tarEntry{name: "f/", typ: tar.TypeDir, mode: 0o755}, // a directory replaces a file
		tarEntry{name: "f/in", body: "3", typ: tar.TypeReg},
		tarEntry{name: "a/stays", body: "2", typ: tar.TypeReg}, // a file replaces a file
		tarEntry{name: ".wh..wh.plnk", typ: tar.TypeDir},
	)
	put(t, host, "wh:latest", image{tars: [][]byte{lower, upper}})
	_, rootfs, err := pull(t, g, host+"/wh:latest", noAuth)
	require.NoError(t, err)
	got := tree(t, rootfs)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	assert.ElementsMatch(t, []string{".", "bin", "bin/plugin", "a", "a/stays", "o", "o/new", "f", "f/in"}, names)
	b, _ := os.ReadFile(filepath.Join(rootfs, "a", "stays"))
	assert.Equal(t, "2", string(b))
}

// corrupt serves every blob of a given digest with one byte flipped.
func corrupt(digest string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+digest) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 20 {
				body[len(body)-10] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}
}

func TestDigestMismatch(t *testing.T) {
	var target atomic.Value
	target.Store("none")
	host, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			corrupt(target.Load().(string))(next).ServeHTTP(w, r)
		})
	})
	g := newRegistry()
	layer := makeTar(t, pluginBin)
	digests := put(t, host, "bad:latest", image{tars: [][]byte{layer}})
	target.Store(digests[0])
	_, rootfs, err := pull(t, g, host+"/bad:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "error verifying sha256 checksum")
	assert.NoFileExists(t, filepath.Join(rootfs, "bin", "plugin"), "a corrupted layer is never unpacked")
	entries, _ := os.ReadDir(filepath.Dir(rootfs))
	assert.Len(t, entries, 1, "the corrupted download is removed")
}

func TestConfigDigestMismatch(t *testing.T) {
	var target atomic.Value
	target.Store("none")
	host, _ := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			corrupt(target.Load().(string))(next).ServeHTTP(w, r)
		})
	})
	g := newRegistry()
	put(t, host, "badcfg:latest", image{tars: [][]byte{makeTar(t, pluginBin)}})
	ref, err := g.ParseRef(host + "/badcfg:latest")
	require.NoError(t, err)
	im, err := g.Fetch(context.Background(), ref, noAuth)
	require.NoError(t, err)
	target.Store(im.ConfigDigest)
	_, _, err = pull(t, g, host+"/badcfg:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fetch plugin config")
	assert.Contains(t, err.Error(), "error verifying sha256 checksum")
}

func TestRegistryDownMidPull(t *testing.T) {
	var srv *httptest.Server
	var blobs atomic.Int32
	host, srv := testregistry.Start(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && blobs.Add(1) == 2 {
				// The config came; the registry goes away before the layer.
				go srv.Close()
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close()
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	g := newRegistry()
	put(t, host, "down:latest", image{tars: [][]byte{makeTar(t, pluginBin)}})
	_, rootfs, err := pull(t, g, host+"/down:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fetch layer")
	// The pull ends on the dropped connection, not at pull's deadline.
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "deadline exceeded")
	entries, _ := os.ReadDir(rootfs)
	assert.Empty(t, entries)
}

func TestAuthRequired(t *testing.T) {
	host, _ := testregistry.Start(t, testregistry.BasicAuth("user", "pass"))
	g := newRegistry()
	good := registrytypes.AuthConfig{Username: "user", Password: "pass"}
	ref, err := g.ParseRef(host + "/private/p:latest")
	require.NoError(t, err)

	_, err = g.Push(context.Background(), ref, makeRootfs(t), parseConfig(t), t.TempDir(), noAuth, nil)
	require.Error(t, err)
	assert.True(t, errdefs.IsUnauthorized(err), "%v", err)

	_, err = g.Push(context.Background(), ref, makeRootfs(t), parseConfig(t), t.TempDir(), good, nil)
	require.NoError(t, err)

	_, _, err = pull(t, g, host+"/private/p:latest", noAuth)
	require.Error(t, err)
	assert.True(t, errdefs.IsUnauthorized(err), "%v", err)
	_, _, err = pull(t, g, host+"/private/p:latest", registrytypes.AuthConfig{Username: "user", Password: "wrong"})
	assert.True(t, errdefs.IsUnauthorized(err), "%v", err)
	_, rootfs, err := pull(t, g, host+"/private/p:latest", good)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(rootfs, "bin", "plugin"))
}

func TestNotAPlugin(t *testing.T) {
	host, _ := testregistry.Start(t, nil)
	g := newRegistry()
	put(t, host, "img:latest", image{tars: [][]byte{makeTar(t, pluginBin)}, cfgType: string(types.DockerConfigJSON)})
	_, _, err := pull(t, g, host+"/img:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `is not a plugin: its config has media type "application/vnd.docker.container.image.v1+json"`)

	put(t, host, "trail:latest", image{tars: [][]byte{makeTar(t, pluginBin)}, rawConfig: []byte(testConfig + "{}")})
	_, _, err = pull(t, g, host+"/trail:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid config json")

	put(t, host, "huge:latest", image{tars: [][]byte{makeTar(t, pluginBin)}, rawConfig: []byte(`{"Description":"` + strings.Repeat("a", 1<<20) + `"}`)})
	_, _, err = pull(t, g, host+"/huge:latest", noAuth)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the plugin config is 1048594 bytes, more than 1048576")

	_, _, err = pull(t, g, host+"/nothing:latest", noAuth)
	require.Error(t, err)
	var nf interface{ NotFound() }
	assert.ErrorAs(t, err, &nf)
}

func TestParseRef(t *testing.T) {
	g := distribution.New(distribution.Options{InsecureRegistries: []string{"reg.example:5000"}})
	tests := []struct {
		in, want, local string
	}{
		{"vieux/sshfs", "docker.io/vieux/sshfs:latest", "vieux/sshfs:latest"},
		{"busybox:1", "docker.io/library/busybox:1", "busybox:1"},
		{"localhost:5000/p", "localhost:5000/p:latest", "localhost:5000/p:latest"},
		{"reg.example:5000/a/b:t@sha256:" + strings.Repeat("a", 64), "reg.example:5000/a/b@sha256:" + strings.Repeat("a", 64), "reg.example:5000/a/b:t"},
		{"x/y@sha256:" + strings.Repeat("b", 64), "docker.io/x/y@sha256:" + strings.Repeat("b", 64), "x/y:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := g.ParseRef(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.String())
			assert.Equal(t, tt.local, r.LocalName())
		})
	}
	_, err := g.ParseRef("UPPER/case")
	assert.Error(t, err)
}

// TestPlainHTTPOnlyForLoopbackAndInsecure sends each request through a
// transport whose dialer notes the address and refuses to connect: a
// request the rule lets through reaches the dialer, a refused one never
// does, and no packet leaves the machine (no name is resolved either: the
// dialer is handed the host as written).
func TestPlainHTTPOnlyForLoopbackAndInsecure(t *testing.T) {
	errNoDial := errors.New("test dialer: no connection")
	var mu sync.Mutex
	var dialled []string
	tr := &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		dialled = append(dialled, addr)
		return nil, errNoDial
	}}
	g := distribution.New(distribution.Options{Transport: tr, InsecureRegistries: []string{"insecure-port.example:5000", "insecure.example"}})
	tests := []struct {
		name    string
		url     string
		allowed bool
		dial    string // the address the request is dialled at, when allowed
	}{
		{name: "localhost", url: "http://localhost:5000/v2/", allowed: true, dial: "localhost:5000"},
		{name: "IPv4 loopback", url: "http://127.0.0.1:5000/v2/", allowed: true, dial: "127.0.0.1:5000"},
		{name: "IPv4 loopback, not .1", url: "http://127.8.9.10/v2/", allowed: true, dial: "127.8.9.10:80"},
		{name: "IPv6 loopback", url: "http://[::1]:5000/v2/", allowed: true, dial: "[::1]:5000"},
		{name: "insecure host:port", url: "http://insecure-port.example:5000/v2/", allowed: true, dial: "insecure-port.example:5000"},
		{name: "insecure host:port, another port", url: "http://insecure-port.example:5001/v2/"},
		{name: "insecure host, any port", url: "http://insecure.example:8080/v2/", allowed: true, dial: "insecure.example:8080"},
		{name: "insecure host, default port", url: "http://insecure.example/v2/", allowed: true, dial: "insecure.example:80"},
		{name: "another host:port", url: "http://other.example:5000/v2/"},
		{name: "another host", url: "http://registry.example/v2/"},
		{name: "HTTPS to any host", url: "https://registry.example/v2/", allowed: true, dial: "registry.example:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			dialled = nil
			mu.Unlock()
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			require.NoError(t, err)
			resp, err := g.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			require.Error(t, err, "the test dialer never connects")
			mu.Lock()
			got := slices.Clone(dialled)
			mu.Unlock()
			if tt.allowed {
				assert.ErrorIs(t, err, errNoDial)
				assert.Equal(t, []string{tt.dial}, got)
			} else {
				assert.ErrorContains(t, err, "plain HTTP is allowed only for loopback hosts and --insecure-registry hosts")
				assert.Empty(t, got, "a refused request must not be dialled")
			}
		})
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	require.NoError(t, err)
	return r
}
