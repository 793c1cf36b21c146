package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/types/plugin"
	"github.com/moby/moby/api/types/registry"

	"github.com/plugdbg/plugdbg/errkind"
	"github.com/plugdbg/plugdbg/format/archive"
	"github.com/plugdbg/plugdbg/format/config"
)

// Event is one progress report, in the terms of Docker's JSON progress
// stream: ID is a short layer digest or a tag, Status is Docker's wording
// ("Downloading", "Pull complete", …), and Current and Total count bytes
// when known.
type Event struct {
	ID      string
	Status  string
	Current int64
	Total   int64
}

// ProgressFunc receives progress events; it must not block for long.
type ProgressFunc func(Event)

func (f ProgressFunc) send(e Event) {
	if f != nil {
		f(e)
	}
}

// maxConfigSize bounds the plugin config blob; real ones are a few KiB.
const maxConfigSize = 1 << 20

// progressEvery spaces out byte-count events.
const progressEvery = 100 * time.Millisecond

// layerTypes are the layer media types Docker applies to a plugin's rootfs.
var layerTypes = map[types.MediaType]bool{
	types.DockerLayer:             true,
	types.DockerUncompressedLayer: true,
	types.OCILayer:                true,
	types.OCIUncompressedLayer:    true,
}

// ErrLayersMismatch is the error for layers that do not match the config's
// rootfs.diff_ids (the text of Docker 19.03 and earlier, which checked).
var ErrLayersMismatch = errors.New("layers from manifest don't match image configuration")

// Image is a plugin image whose manifest and config have been fetched and
// verified; its layers are fetched by Unpack.
type Image struct {
	Ref Ref
	// Digest is the manifest's digest, "sha256:…".
	Digest string
	// Config is the plugin config the image carries, parsed with Docker's
	// rules; RawConfig is the blob and ConfigDigest its digest.
	Config       plugin.Config
	RawConfig    []byte
	ConfigDigest string
	Layers       []v1.Descriptor

	img v1.Image
	ctx context.Context
}

// Fetch gets ref's manifest and plugin config. The manifest must be a single
// image manifest (not a list) whose config has the plugin media type. ctx
// bounds Fetch and the later Unpack.
func (g *Registry) Fetch(ctx context.Context, ref Ref, auth registry.AuthConfig) (*Image, error) {
	opts, err := g.remoteOptions(ctx, ref.ggcr, auth, "pull")
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(ref.ggcr, opts...)
	if err != nil {
		return nil, classify(fmt.Errorf("fetch manifest of %s: %w", ref, err))
	}
	switch desc.MediaType {
	case types.DockerManifestSchema2, types.OCIManifestSchema1:
	case types.DockerManifestList, types.OCIImageIndex:
		return nil, errkind.Invalid(fmt.Errorf("%s is a manifest list: a plugin is a single image manifest: did not find plugin config for specified reference", ref))
	default:
		return nil, errkind.Invalid(fmt.Errorf("%s: unsupported manifest media type %q", ref, desc.MediaType))
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", ref, err)
	}
	if m.Config.MediaType != MediaTypePluginConfig {
		return nil, errkind.Invalid(fmt.Errorf("%s is not a plugin: its config has media type %q, not %q",
			ref, m.Config.MediaType, MediaTypePluginConfig))
	}
	if m.Config.Size > maxConfigSize {
		return nil, errkind.Invalid(fmt.Errorf("%s: the plugin config is %d bytes, more than %d", ref, m.Config.Size, maxConfigSize))
	}
	if len(m.Layers) == 0 {
		return nil, errkind.Invalid(fmt.Errorf("%s: the manifest has no layers: no rootfs found", ref))
	}
	for _, l := range m.Layers {
		if !layerTypes[l.MediaType] {
			return nil, errkind.Invalid(fmt.Errorf("%s: layer %s has unsupported media type %q", ref, l.Digest, l.MediaType))
		}
	}
	raw, err := img.RawConfigFile() // checked against its digest
	if err != nil {
		return nil, classify(fmt.Errorf("fetch plugin config of %s: %w", ref, err))
	}
	cfg, err := config.Parse(raw, "plugin config of "+ref.String())
	if err != nil {
		return nil, errkind.Invalid(err)
	}
	return &Image{
		Ref: ref, Digest: desc.Digest.String(), Config: cfg, RawConfig: raw,
		ConfigDigest: m.Config.Digest.String(), Layers: m.Layers, img: img, ctx: ctx,
	}, nil
}

// Unpack fetches the layers one after the other into scratchDir, each
// checked against its digest before it is applied, and applies them in
// order on rootfsDir. Each layer's uncompressed digest must equal its entry
// in rootfs.diff_ids, or that entry must be the layer's compressed digest
// (what `docker plugin create` writes since Docker 20.10). On error,
// rootfsDir holds part of the image; discard it.
func (im *Image) Unpack(rootfsDir, scratchDir string, progress ProgressFunc) error {
	var diffIDs []string
	if im.Config.Rootfs != nil {
		diffIDs = im.Config.Rootfs.DiffIds
	}
	if len(diffIDs) != len(im.Layers) {
		return errkind.Invalid(fmt.Errorf("%s: %w: rootfs.diff_ids has %d entries for %d layers",
			im.Ref, ErrLayersMismatch, len(diffIDs), len(im.Layers)))
	}
	tag := im.Ref.Tag
	if t, ok := im.Ref.Named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	progress.send(Event{ID: tag, Status: "Pulling from " + reference.FamiliarName(im.Ref.Named)})
	for _, l := range im.Layers {
		progress.send(Event{ID: shortDigest(l.Digest), Status: "Pulling fs layer"})
	}
	for i, l := range im.Layers {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		blob, err := im.download(l, scratchDir, progress)
		if err != nil {
			return err
		}
		res, err := im.apply(l, blob, rootfsDir, progress)
		os.Remove(blob)
		if err != nil {
			return err
		}
		if diffIDs[i] != res.DiffID && diffIDs[i] != l.Digest.String() {
			return errkind.Invalid(fmt.Errorf("%s: %w: layer %d (%s) has uncompressed digest %s, but rootfs.diff_ids[%d] is %s",
				im.Ref, ErrLayersMismatch, i, l.Digest, res.DiffID, i, diffIDs[i]))
		}
		progress.send(Event{ID: shortDigest(l.Digest), Status: "Pull complete"})
	}
	progress.send(Event{Status: "Digest: " + im.Digest})
	return nil
}

// download copies one layer blob into a file under dir; the registry
// reader checks size and digest at the end, so a file that is returned
// holds exactly the blob the manifest names.
func (im *Image) download(l v1.Descriptor, dir string, progress ProgressFunc) (string, error) {
	id := shortDigest(l.Digest)
	layer, err := im.img.LayerByDigest(l.Digest)
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return "", classify(fmt.Errorf("fetch layer %s: %w", l.Digest, err))
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return "", fmt.Errorf("fetch layer %s: %w", l.Digest, err)
	}
	pr := &progressReader{r: rc, id: id, status: "Downloading", total: l.Size, progress: progress}
	_, err = io.Copy(f, pr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		if im.ctx.Err() != nil {
			return "", fmt.Errorf("fetch layer %s: %w", l.Digest, im.ctx.Err())
		}
		return "", classify(fmt.Errorf("fetch layer %s: %w", l.Digest, err))
	}
	progress.send(Event{ID: id, Status: "Verifying Checksum"})
	progress.send(Event{ID: id, Status: "Download complete"})
	return f.Name(), nil
}

func (im *Image) apply(l v1.Descriptor, blob, rootfsDir string, progress ProgressFunc) (archive.Layer, error) {
	f, err := os.Open(blob)
	if err != nil {
		return archive.Layer{}, err
	}
	defer f.Close()
	pr := &progressReader{r: f, id: shortDigest(l.Digest), status: "Extracting", total: l.Size, progress: progress}
	res, err := archive.ApplyLayer(pr, rootfsDir)
	if err != nil {
		return res, errkind.Invalid(fmt.Errorf("%s: layer %s: %w", im.Ref, l.Digest, err))
	}
	return res, nil
}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Hex[:12]
	}
	return h.Hex
}

// progressReader reports the bytes read through it, at most every
// progressEvery and once at the end.
type progressReader struct {
	r        io.Reader
	id       string
	status   string
	total    int64
	n        int64
	last     time.Time
	progress ProgressFunc
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.progress != nil && (time.Since(p.last) >= progressEvery || (err == io.EOF && p.n > 0)) {
		p.last = time.Now()
		p.progress(Event{ID: p.id, Status: p.status, Current: p.n, Total: p.total})
	}
	return n, err
}
