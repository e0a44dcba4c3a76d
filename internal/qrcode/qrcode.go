// Package qrcode renders a text (a quick link) as a QR code image, SVG or PNG, for a phone to scan
// off a screen. The symbol itself (ISO/IEC 18004: version, masking, Reed-Solomon error correction)
// comes from github.com/yeqown/go-qrcode/v2; this package only draws its modules, because that
// library's image writers are separate modules with their own dependencies and options we do
// not need. Both images have the same geometry: ModulePixels pixels per module and a quiet zone
// of QuietZone modules on every side, dark modules black on white.
//
// The text a caller passes is usually a bearer secret (a quick link): the functions never log it
// and their errors never quote it.
package qrcode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"

	goqr "github.com/yeqown/go-qrcode/v2"
)

const (
	// QuietZone is the light margin around the symbol, in modules: the 4 that ISO/IEC 18004
	// requires for a reader to find the symbol's edge.
	QuietZone = 4
	// ModulePixels is the side of one module in pixels, in the PNG and in the SVG's width and
	// height: 8 makes a quick link of 250 characters (version 11, 61 modules) 552 px square, large
	// enough to scan off a laptop screen, and whole pixels keep module edges sharp.
	ModulePixels = 8
)

// ErrEmpty is the error for an empty text, which has nothing worth encoding.
var ErrEmpty = errors.New("qrcode: empty text")

// Matrix returns the QR code for text as rows of modules, true for dark, without a quiet zone:
// a square of 21 + 4·(version−1) modules, the version the smallest that holds text in byte mode at
// error correction level M (15% of the symbol may be damaged). Errors: ErrEmpty, or the
// library's error when text does not fit the largest version (about 2,300 bytes at level M).
func Matrix(text string) ([][]bool, error) {
	if text == "" {
		return nil, ErrEmpty
	}
	code, err := goqr.NewWith(text, goqr.WithErrorCorrectionLevel(goqr.ErrorCorrectionMedium),
		goqr.WithEncodingMode(goqr.EncModeByte))
	if err != nil {
		// In byte mode the library's errors name sizes and versions, never the text.
		return nil, fmt.Errorf("qrcode: encode %d bytes: %w", len(text), err)
	}
	var m matrixWriter
	if err := code.Save(&m); err != nil {
		return nil, fmt.Errorf("qrcode: read the matrix: %w", err)
	}
	return m.rows, nil
}

// matrixWriter is a goqr.Writer that keeps the module matrix instead of drawing it.
type matrixWriter struct{ rows [][]bool }

func (w *matrixWriter) Write(m goqr.Matrix) error {
	w.rows = m.Bitmap()
	return nil
}

func (*matrixWriter) Close() error { return nil }

// Side returns the side of the image of an n-module matrix, in modules: n plus the quiet zone on
// both sides. The images are Side(n)·ModulePixels pixels square.
func Side(n int) int { return n + 2*QuietZone }

// SVG returns the QR code for text as an SVG document: a square viewBox of Side(n) user units, one
// per module (quiet zone included), width and height Side(n)·ModulePixels (CSS may scale it; it
// stays sharp), a white background and one <path> whose subpaths are the horizontal runs of dark
// modules, drawn with shape-rendering="crispEdges" so that no anti-aliased seams appear between
// modules. It is plain markup meant to be inlined in HTML, about 14 KB for a link of 250
// characters. Errors as Matrix.
func SVG(text string) (string, error) {
	rows, err := Matrix(text)
	if err != nil {
		return "", err
	}
	side := strconv.Itoa(Side(len(rows)))
	px := strconv.Itoa(Side(len(rows)) * ModulePixels)
	var b strings.Builder
	b.Grow(64 * len(rows) * len(rows) / 8) // about one run of 16 bytes per 8 modules
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + side + ` ` + side +
		`" width="` + px + `" height="` + px + `" shape-rendering="crispEdges">`)
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	for y, row := range rows {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			// A closed run of dark modules: from its top-left corner, right, down one, back left.
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+QuietZone, y+QuietZone, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// PNG returns the QR code for text as a PNG image: Side(n)·ModulePixels pixels square, a
// two-colour palette (white, black; stored at 1 bit per pixel), the quiet zone white. A link of
// 250 characters makes a PNG of about 1 KB. Errors as Matrix.
func PNG(text string) ([]byte, error) {
	rows, err := Matrix(text)
	if err != nil {
		return nil, err
	}
	side := Side(len(rows)) * ModulePixels
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	// Index 0 is white: the new image is all quiet zone; only dark modules are painted.
	for y, row := range rows {
		for x, dark := range row {
			if !dark {
				continue
			}
			top, left := (y+QuietZone)*ModulePixels, (x+QuietZone)*ModulePixels
			for py := top; py < top+ModulePixels; py++ {
				line := img.Pix[py*img.Stride+left : py*img.Stride+left+ModulePixels]
				for i := range line {
					line[i] = 1
				}
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("qrcode: encode the PNG: %w", err)
	}
	return out.Bytes(), nil
}
