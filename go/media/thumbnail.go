package media

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // first frame of an animated GIF
	"image/jpeg"
	"image/png"
	"strings"
	"sync"

	"github.com/matrix-org/gomatrixserverlib/spec"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// ErrNoThumbnail: the media is not an image this server can decode (or is
// too large to), so it has no thumbnail.
var ErrNoThumbnail = errors.New("no thumbnail")

// Thumbnail methods (client-server API, "Thumbnails").
const (
	Scale = "scale" // fit inside the box, keeping proportions
	Crop  = "crop"  // fill the box, cutting what sticks out
)

// thumbnailSizes are the boxes thumbnails are made in: a request gets the
// smallest that covers it (the largest when none does), so one picture has a
// few thumbnails at most, whatever sizes clients ask for. The spec's
// recommended sizes, and a larger one for inline pictures on sharp screens.
var thumbnailSizes = [...]image.Point{{32, 32}, {96, 96}, {320, 240}, {640, 480}, {800, 600}, {1280, 960}}

const (
	// maxPixels refuses to decode larger images: a 10 MiB PNG can claim
	// 100k×100k pixels, and decoding it would take the tab's memory.
	maxPixels = 40_000_000
	// thumbnailCacheBytes bounds the thumbnails kept in memory (per worker
	// life in the browser); the least recently used go first.
	thumbnailCacheBytes = 16 << 20
	jpegQuality         = 82
)

// Thumbnail returns a picture of server/mediaID scaled to a box covering
// width×height (method Scale or Crop; anything else is Scale). PNG, JPEG,
// GIF (its first frame) and WebP are decoded; a JPEG stays a JPEG, the rest
// become PNG (they may be transparent). A picture already within the box is
// returned as it is. Results are cached in memory.
func (s *Store) Thumbnail(ctx context.Context, server spec.ServerName, mediaID string, width, height int, method string) (Media, error) {
	if method != Crop {
		method = Scale
	}
	box := thumbnailBox(width, height)
	key := fmt.Sprintf("%s/%s/%dx%d/%s", server, mediaID, box.X, box.Y, method)
	if m, ok := s.thumbs.get(key); ok {
		return m, nil
	}
	orig, err := s.Get(ctx, server, mediaID)
	if err != nil {
		return Media{}, err
	}
	m, err := makeThumbnail(orig, box, method)
	if err != nil {
		return Media{}, fmt.Errorf("thumbnail %s/%s: %w", server, mediaID, err)
	}
	s.thumbs.put(key, m)
	return m, nil
}

// thumbnailBox is the smallest of thumbnailSizes that covers w×h.
func thumbnailBox(w, h int) image.Point {
	for _, size := range thumbnailSizes {
		if size.X >= w && size.Y >= h {
			return size
		}
	}
	return thumbnailSizes[len(thumbnailSizes)-1]
}

func makeThumbnail(orig Media, box image.Point, method string) (Media, error) {
	if !strings.HasPrefix(orig.ContentType, "image/") {
		return Media{}, fmt.Errorf("%w: %s is not an image", ErrNoThumbnail, orig.ContentType)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(orig.Data))
	if err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrNoThumbnail, err)
	}
	if cfg.Width*cfg.Height > maxPixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return Media{}, fmt.Errorf("%w: %d×%d pixels, at most %d", ErrNoThumbnail, cfg.Width, cfg.Height, maxPixels)
	}
	if cfg.Width <= box.X && cfg.Height <= box.Y && (method == Scale || cfg.Width == box.X && cfg.Height == box.Y) {
		return orig, nil // nothing to gain
	}
	src, _, err := image.Decode(bytes.NewReader(orig.Data))
	if err != nil {
		return Media{}, fmt.Errorf("%w: decode: %v", ErrNoThumbnail, err)
	}
	dst, from := target(src.Bounds(), box, method)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, from, draw.Src, nil)
	var out bytes.Buffer
	contentType := "image/png"
	if format == "jpeg" {
		contentType = "image/jpeg"
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: jpegQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst)
	}
	if err != nil {
		return Media{}, fmt.Errorf("encode: %w", err)
	}
	return Media{ContentType: contentType, FileName: orig.FileName, Data: out.Bytes()}, nil
}

// target is the thumbnail canvas and the part of the source drawn on it:
// Scale fits the whole source inside box; Crop fills box with the source's
// centre. Neither makes a picture larger than it is.
func target(src image.Rectangle, box image.Point, method string) (*image.RGBA, image.Rectangle) {
	w, h := src.Dx(), src.Dy()
	if method == Crop {
		bw, bh := min(box.X, w), min(box.Y, h)
		// The largest part of the source with the box's proportions.
		cw, ch := w, w*bh/bw
		if ch > h {
			cw, ch = h*bw/bh, h
		}
		x0, y0 := src.Min.X+(w-cw)/2, src.Min.Y+(h-ch)/2
		return image.NewRGBA(image.Rect(0, 0, bw, bh)), image.Rect(x0, y0, x0+cw, y0+ch)
	}
	scale := min(float64(box.X)/float64(w), float64(box.Y)/float64(h), 1)
	tw, th := max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))
	return image.NewRGBA(image.Rect(0, 0, tw, th)), src
}

// thumbCache is a least-recently-used cache of thumbnails, bounded in bytes.
// Safe for concurrent use; the zero value is not: use newThumbCache.
type thumbCache struct {
	mu    sync.Mutex
	max   int                      // bytes of Data kept at most
	size  int                      // bytes of Data kept now; guarded by mu
	order *list.List               // of *thumbEntry, most recently used first; guarded by mu
	byKey map[string]*list.Element // guarded by mu
}

type thumbEntry struct {
	key string
	m   Media
}

func newThumbCache(maxBytes int) *thumbCache {
	return &thumbCache{max: maxBytes, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *thumbCache) get(key string) (Media, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return Media{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*thumbEntry).m, true
}

func (c *thumbCache) put(key string, m Media) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || len(m.Data) > c.max {
		return
	}
	c.byKey[key] = c.order.PushFront(&thumbEntry{key: key, m: m})
	c.size += len(m.Data)
	for c.size > c.max {
		last := c.order.Back()
		old := last.Value.(*thumbEntry)
		c.order.Remove(last)
		delete(c.byKey, old.key)
		c.size -= len(old.m.Data)
	}
}
