package handlers

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// noise is a w×h image of seeded random pixels: it compresses badly, so even a small one encodes
// to more than the 1 KB the handler requires.
func noise(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, seed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
		}
	}
	return img
}

func pngImage(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, noise(48, 48, 1)); err != nil {
		t.Fatalf("encode PNG: %v", err)
	}
	if b.Len() < minImageBytes {
		t.Fatalf("test PNG is %d bytes, want at least %d", b.Len(), minImageBytes)
	}
	return b.Bytes()
}

func jpegImage(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, noise(48, 48, 2), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatalf("encode JPEG: %v", err)
	}
	if b.Len() < minImageBytes {
		t.Fatalf("test JPEG is %d bytes, want at least %d", b.Len(), minImageBytes)
	}
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
