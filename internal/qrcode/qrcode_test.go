package qrcode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// link is the shape of what IssueLink encodes: a quick link with a percent-encoded signed
// callback URL (245 characters).
const link = "https://liveness.face.azure.com/?s=60c3980c-d9f6-4b16-a7f5-f1f4ad2b506f&callbackUrl=" +
	"https%3A%2F%2Fliveness.example.net%2Fapi%2Fcallback%2F3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50" +
	"%3Fexp%3D1767225600%26sig%3DAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"

var texts = []struct{ name, text string }{
	{"one character", "x"},
	{"quick link", link},
	{"non-ASCII bytes", "https://app.example.com/é?ü=ß"},
	{"long", "https://example.com/?q=" + strings.Repeat("0123456789", 120)},
}

// decode reads img with ZXing's QR code reader (an independent implementation) and returns the text.
func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("binary bitmap: %v", err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("ZXing cannot read the code: %v", err)
	}
	return res.GetText()
}

func TestPNGDecodesToTheText(t *testing.T) {
	for _, tt := range texts {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := PNG(tt.text)
			if err != nil {
				t.Fatalf("PNG: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("the answer is not a PNG: %v", err)
			}
			m, _ := Matrix(tt.text)
			if want := Side(len(m)) * ModulePixels; img.Bounds() != image.Rect(0, 0, want, want) {
				t.Errorf("PNG bounds = %v, want %d px square (%d modules + quiet zone)", img.Bounds(), want, len(m))
			}
			if got := decode(t, img); got != tt.text {
				t.Errorf("decoded %q, want %q", got, tt.text)
			}
			// The quiet zone is white all round: readers need it to find the symbol.
			q := QuietZone * ModulePixels
			for i := 0; i < img.Bounds().Dx(); i++ {
				for _, p := range []image.Point{{i, 0}, {i, q - 1}, {0, i}, {q - 1, i}, {i, img.Bounds().Dy() - q}, {img.Bounds().Dx() - q, i}} {
					if r, _, _, _ := img.At(p.X, p.Y).RGBA(); r != 0xffff {
						t.Fatalf("pixel %v of the quiet zone is not white", p)
					}
				}
			}
		})
	}
}

var (
	svgHead = regexp.MustCompile(`^<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 (\d+) (\d+)" width="(\d+)" height="(\d+)" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="([^"]*)"/></svg>$`)
	svgRun  = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
)

// TestSVGDrawsTheMatrix reads the one path back into modules, draws them, and has ZXing read that.
func TestSVGDrawsTheMatrix(t *testing.T) {
	for _, tt := range texts {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := SVG(tt.text)
			if err != nil {
				t.Fatalf("SVG: %v", err)
			}
			parts := svgHead.FindStringSubmatch(svg)
			if parts == nil {
				t.Fatalf("SVG is not one viewBox, background and path of runs: %.300s", svg)
			}
			m, _ := Matrix(tt.text)
			side := Side(len(m))
			for i, want := range []int{side, side, side * ModulePixels, side * ModulePixels} {
				if got, _ := strconv.Atoi(parts[i+1]); got != want {
					t.Errorf("SVG size attribute %d = %d, want %d", i, got, want)
				}
			}
			if rest := svgRun.ReplaceAllString(parts[5], ""); rest != "" {
				t.Fatalf("path data has more than runs: %.100q", rest)
			}
			got := make([][]bool, side)
			for i := range got {
				got[i] = make([]bool, side)
			}
			for _, r := range svgRun.FindAllStringSubmatch(parts[5], -1) {
				x, _ := strconv.Atoi(r[1])
				y, _ := strconv.Atoi(r[2])
				n, _ := strconv.Atoi(r[3])
				if back, _ := strconv.Atoi(r[4]); back != n {
					t.Fatalf("run %q does not close on itself", r[0])
				}
				for i := x; i < x+n; i++ {
					got[y][i] = true
				}
			}
			for y := range got {
				for x := range got[y] {
					inside := y >= QuietZone && x >= QuietZone && y < side-QuietZone && x < side-QuietZone
					want := inside && m[y-QuietZone][x-QuietZone]
					if got[y][x] != want {
						t.Fatalf("SVG module (%d,%d) dark = %t, want %t", x, y, got[y][x], want)
					}
				}
			}
			if got := decode(t, draw4(got)); got != tt.text {
				t.Errorf("decoded %q, want %q", got, tt.text)
			}
		})
	}
}

// draw4 draws modules 4 pixels each, black on white.
func draw4(mods [][]bool) image.Image {
	img := image.NewGray(image.Rect(0, 0, 4*len(mods), 4*len(mods)))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for y, row := range mods {
		for x, dark := range row {
			if dark {
				draw.Draw(img, image.Rect(4*x, 4*y, 4*x+4, 4*y+4), image.NewUniform(color.Black), image.Point{}, draw.Src)
			}
		}
	}
	return img
}

func TestMatrixSizes(t *testing.T) {
	tests := []struct {
		name, text string
		want       int // modules per side
	}{
		{"version 1", "x", 21},
		// At level M, byte mode: version 10 holds 213 bytes, version 11 holds 251.
		{"quick link", link, 61},
		{"version 40", strings.Repeat("a", 2331), 177},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Matrix(tt.text)
			if err != nil {
				t.Fatalf("Matrix: %v", err)
			}
			if len(m) != tt.want {
				t.Errorf("%d rows, want %d", len(m), tt.want)
			}
			for i, row := range m {
				if len(row) != len(m) {
					t.Fatalf("row %d has %d modules, want %d (square)", i, len(row), len(m))
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name, text string
		want       error // nil: any error
	}{
		{"empty", "", ErrEmpty},
		{"too long for version 40", strings.Repeat("a", 2332), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for fn, render := range map[string]func(string) error{
				"Matrix": func(s string) error { _, err := Matrix(s); return err },
				"SVG":    func(s string) error { _, err := SVG(s); return err },
				"PNG":    func(s string) error { _, err := PNG(s); return err },
			} {
				err := render(tt.text)
				if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
					t.Errorf("%s = %v, want an error (%v)", fn, err, tt.want)
				}
				if err != nil && len(tt.text) > 0 && strings.Contains(err.Error(), tt.text[:20]) {
					t.Errorf("%s's error quotes the text", fn)
				}
			}
		})
	}
}

func BenchmarkSVG(b *testing.B) {
	for b.Loop() {
		if _, err := SVG(link); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPNG(b *testing.B) {
	for b.Loop() {
		if _, err := PNG(link); err != nil {
			b.Fatal(err)
		}
	}
}
