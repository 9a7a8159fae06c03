package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"hearth/go/storage"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, NewMemoryBlobs(), "here", Options{})
}

// picture encodes a w×h gradient in format (png, jpeg or gif).
func picture(t *testing.T, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var out bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&out, img)
	case "jpeg":
		err = jpeg.Encode(&out, img, nil)
	case "gif":
		err = gif.Encode(&out, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestThumbnail(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	upload := func(contentType string, data []byte) string {
		uri, err := s.Upload(ctx, spec.NewUserIDOrPanic("@a:here", false), contentType, "x", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return uri[len("mxc://here/"):]
	}
	tests := []struct {
		name           string
		contentType    string
		data           []byte
		w, h           int
		method         string
		wantType       string
		wantW, wantH   int
		wantSameAsOrig bool
	}{
		{name: "png scaled into 320x240", contentType: "image/png", data: picture(t, "png", 1200, 600), w: 300, h: 200, method: Scale, wantType: "image/png", wantW: 320, wantH: 160},
		{name: "jpeg stays jpeg", contentType: "image/jpeg", data: picture(t, "jpeg", 1000, 1000), w: 640, h: 480, method: Scale, wantType: "image/jpeg", wantW: 480, wantH: 480},
		{name: "gif becomes png", contentType: "image/gif", data: picture(t, "gif", 200, 100), w: 32, h: 32, method: Scale, wantType: "image/png", wantW: 32, wantH: 16},
		{name: "crop fills the box", contentType: "image/png", data: picture(t, "png", 400, 200), w: 96, h: 96, method: Crop, wantType: "image/png", wantW: 96, wantH: 96},
		{name: "unknown method scales", contentType: "image/png", data: picture(t, "png", 400, 200), w: 96, h: 96, method: "zoom", wantType: "image/png", wantW: 96, wantH: 48},
		{name: "small pictures are not enlarged", contentType: "image/png", data: picture(t, "png", 50, 40), w: 320, h: 240, method: Scale, wantSameAsOrig: true},
		{name: "huge requests get the largest box", contentType: "image/png", data: picture(t, "png", 3000, 100), w: 5000, h: 5000, method: Scale, wantType: "image/png", wantW: 1280, wantH: 43},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := upload(tt.contentType, tt.data)
			m, err := s.Thumbnail(ctx, "here", id, tt.w, tt.h, tt.method)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSameAsOrig {
				if !bytes.Equal(m.Data, tt.data) {
					t.Fatal("a picture within the box was re-encoded")
				}
				return
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentType != tt.wantType || "image/"+format != tt.wantType || cfg.Width != tt.wantW || cfg.Height != tt.wantH {
				t.Fatalf("got %s (%s) %dx%d, want %s %dx%d", m.ContentType, format, cfg.Width, cfg.Height, tt.wantType, tt.wantW, tt.wantH)
			}
			again, err := s.Thumbnail(ctx, "here", id, tt.w, tt.h, tt.method)
			if err != nil || !bytes.Equal(again.Data, m.Data) {
				t.Fatalf("second call: %v", err)
			}
		})
	}

	t.Run("not a picture, or a lying one: no thumbnail", func(t *testing.T) {
		for _, c := range []struct{ contentType, data string }{{"text/plain", "hello"}, {"image/png", "\x89PNG\r\n\x1a\nnot really"}} {
			_, err := s.Thumbnail(ctx, "here", upload(c.contentType, []byte(c.data)), 32, 32, Scale)
			if !errors.Is(err, ErrNoThumbnail) {
				t.Fatalf("%s: %v", c.contentType, err)
			}
		}
	})
	t.Run("a decompression bomb is refused before decoding", func(t *testing.T) {
		var out bytes.Buffer
		// A 10000×10000 paletted PNG compresses to almost nothing.
		if err := png.Encode(&out, image.NewPaletted(image.Rect(0, 0, 10000, 10000), color.Palette{color.Black})); err != nil {
			t.Fatal(err)
		}
		_, err := s.Thumbnail(ctx, "here", upload("image/png", out.Bytes()), 32, 32, Scale)
		if !errors.Is(err, ErrNoThumbnail) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestThumbCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newThumbCache(10)
	c.put("a", Media{Data: make([]byte, 4)})
	c.put("b", Media{Data: make([]byte, 4)})
	c.get("a")
	c.put("c", Media{Data: make([]byte, 4)}) // 12 bytes: b goes
	if _, ok := c.get("b"); ok {
		t.Fatal("b is still cached")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := c.get(k); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
	c.put("big", Media{Data: make([]byte, 11)})
	if _, ok := c.get("big"); ok {
		t.Fatal("an entry larger than the cache was kept")
	}
}
