package distribution

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/moby/api/types/registry"

	apitypes "github.com/plugdbg/plugdbg/api/types"
	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/archive"
)

// Push packs rootfsDir into one gzip layer, in a file under scratchDir,
// and pushes it with cfg (its rootfs.diff_ids set to the layer's
// uncompressed digest) as a plugin image under ref, with Docker's media
// types. ref must be tagged. The caller keeps rootfsDir from changing
// during the push.
func (g *Registry) Push(ctx context.Context, ref Ref, rootfsDir string, cfg plugin.Config, scratchDir string, auth registry.AuthConfig, progress ProgressFunc) (apitypes.PushResult, error) {
	tagged, ok := ref.Named.(reference.Tagged)
	if !ok {
		return apitypes.PushResult{}, errkind.Invalid(fmt.Errorf("push %s: a tag is required", ref))
	}
	progress.send(Event{Status: "The push refers to repository [" + reference.FamiliarName(ref.Named) + "]"})

	layer, err := packLayer(rootfsDir, scratchDir)
	if err != nil {
		return apitypes.PushResult{}, err
	}
	defer os.Remove(layer.path)
	cfg.Rootfs = &plugin.RootFS{Type: "layers", DiffIds: []string{layer.diffID.String()}}
	var cfgBuf bytes.Buffer
	if err := json.NewEncoder(&cfgBuf).Encode(cfg); err != nil { // a trailing newline, as Docker's
		return apitypes.PushResult{}, fmt.Errorf("encode plugin config: %w", err)
	}
	cfgLayer := static.NewLayer(cfgBuf.Bytes(), types.MediaType(MediaTypePluginConfig))
	cfgDigest, _ := cfgLayer.Digest()

	opts, err := g.remoteOptions(ctx, ref.ggcr, auth, "push", "pull")
	if err != nil {
		return apitypes.PushResult{}, err
	}
	repo := ref.ggcr.Context()
	id := shortDigest(layer.digest)
	progress.send(Event{ID: id, Status: "Preparing"})
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			progress.send(Event{ID: id, Status: "Pushing", Current: u.Complete, Total: u.Total})
		}
	}()
	l, _ := partial.CompressedToLayer(layer)
	err = remote.WriteLayer(repo, l, append(opts, remote.WithProgress(updates))...)
	<-done
	if err != nil {
		return apitypes.PushResult{}, classify(fmt.Errorf("push layer %s: %w", layer.digest, err))
	}
	progress.send(Event{ID: id, Status: "Pushed"})
	if err := remote.WriteLayer(repo, cfgLayer, opts...); err != nil {
		return apitypes.PushResult{}, classify(fmt.Errorf("push plugin config: %w", err))
	}

	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.MediaType(mediaTypeManifest),
		Config:        v1.Descriptor{MediaType: types.MediaType(MediaTypePluginConfig), Digest: cfgDigest, Size: int64(cfgBuf.Len())},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(mediaTypeLayerGzip), Digest: layer.digest, Size: layer.size}},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return apitypes.PushResult{}, err
	}
	if err := remote.Put(ref.ggcr, rawManifest(raw), opts...); err != nil {
		return apitypes.PushResult{}, classify(fmt.Errorf("push manifest: %w", err))
	}
	sum := sha256.Sum256(raw)
	res := apitypes.PushResult{Tag: tagged.Tag(), Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: len(raw)}
	progress.send(Event{Status: fmt.Sprintf("%s: digest: %s size: %d", res.Tag, res.Digest, res.Size)})
	return res, nil
}

// rawManifest is a manifest to put as is.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error) { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) {
	return types.MediaType(mediaTypeManifest), nil
}

// fileLayer is a gzip layer kept in a file.
type fileLayer struct {
	path   string
	digest v1.Hash // of the gzip blob
	diffID v1.Hash // of the tar inside
	size   int64
}

func (l *fileLayer) Digest() (v1.Hash, error)           { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)           { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)               { return l.size, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *fileLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(mediaTypeLayerGzip), nil
}

// packLayer writes rootfsDir as a gzip layer into a file under dir,
// digesting the tar and the gzip stream on the way.
func packLayer(rootfsDir, dir string) (_ *fileLayer, retErr error) {
	f, err := os.CreateTemp(dir, "push-layer-")
	if err != nil {
		return nil, fmt.Errorf("pack rootfs: %w", err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	blobSum, tarSum := sha256.New(), sha256.New()
	counter := &countWriter{}
	zw := gzip.NewWriter(io.MultiWriter(f, blobSum, counter))
	if err := archive.PackLayer(io.MultiWriter(zw, tarSum), rootfsDir); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack rootfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("pack rootfs: %w", err)
	}
	return &fileLayer{
		path:   f.Name(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blobSum.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(tarSum.Sum(nil))},
		size:   counter.n,
	}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}
