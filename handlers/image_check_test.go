package handlers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// encoded is img in format, for tests that need an image of a given size.
func encoded(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return b.Bytes()
}

// imageCases are verify images the Face service would refuse, each of a kind that once passed a
// signature check and cost a Face call; ok are images it accepts. Every one is at least 1 KB, so
// only the content decides.
func imageCases(t testing.TB) (bad map[string][]byte, ok map[string][]byte) {
	jpg := encoded(t, "jpeg", noise(48, 48, 2))
	pngImg := encoded(t, "png", noise(48, 48, 1))
	gifImg := encoded(t, "gif", noise(48, 48, 3))
	bmpImg := encoded(t, "bmp", noise(48, 48, 4))
	garbage := make([]byte, 2048)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range garbage {
		garbage[i] = byte(r.IntN(256))
	}
	corruptPNG := bytes.Clone(pngImg)
	corruptPNG[len(corruptPNG)/2] ^= 0xFF // inside IDAT: its CRC no longer matches
	// A GIF that is also JavaScript: the logical screen's "width" and "height" are "/*" and "*/".
	polyglot := []byte("GIF89a/*\x00\x00\x00*/=1;alert(document.domain);/*" + strings.Repeat(" ", 1024) + "*/")
	// A GIF that is also JavaScript, the other way: its screen reads "=\n1\n" (2621×2609, in range),
	// a 1×1 frame (the image Face reads) and the script after the trailer.
	frame := encoded(t, "gif", image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White}))
	screenPolyglot := append([]byte("GIF89a=\n1\n"), frame[10:]...)
	screenPolyglot = append(screenPolyglot, []byte("*/\nalert('polyglot')"+strings.Repeat(" ", 1024))...)
	bad = map[string][]byte{
		"GIF/JS polyglot with a screen in range":   screenPolyglot,
		"GIF with data after its trailer":          append(bytes.Clone(gifImg), []byte("/*"+strings.Repeat("x", 64))...),
		"GIF whose first frame is 1×1":             gifWithFrame(t, 48, 48, 1, 1),
		"GIF whose first frame leaves its screen":  gifWithFrame(t, 48, 48, 60, 48),
		"GIF whose first frame is not its screen":  gifWithFrame(t, 60, 50, 48, 48),
		"GIF whose second frame leaves its screen": secondFrameOutside(t),
		"PNG with data after IEND":                 append(bytes.Clone(pngImg), []byte("*/alert(1)")...),
		"PNG signature followed by garbage":        append([]byte("\x89PNG\r\n\x1a\n"), garbage...),
		"JPEG signature followed by garbage":       append([]byte("\xff\xd8\xff"), garbage...),
		"GIF signature followed by garbage":        append([]byte("GIF89a"), garbage...),
		"BMP signature followed by garbage":        append([]byte("BM"), garbage...),
		"GIF/JS polyglot":                          polyglot,
		"truncated JPEG":                           jpg[:len(jpg)*2/3],
		"JPEG without its end marker":              jpg[:len(jpg)-2],
		"truncated PNG":                            pngImg[:len(pngImg)-20],
		"PNG with a corrupt chunk":                 corruptPNG,
		"truncated GIF":                            gifImg[:len(gifImg)-40],
		"truncated BMP":                            bmpImg[:len(bmpImg)-100],
		"JPEG 35 pixels wide":                      encoded(t, "jpeg", noise(35, 48, 5)),
		"PNG 35 pixels high":                       encoded(t, "png", noise(48, 35, 6)),
		"PNG 4097 pixels wide":                     encoded(t, "png", noise(4097, 36, 7)),
		"GIF 4097 pixels high":                     encoded(t, "gif", noise(36, 4097, 8)),
	}
	ok = map[string][]byte{
		"JPEG": jpg, "PNG": pngImg, "GIF": gifImg, "BMP": bmpImg,
		"JPEG with data after its end marker": append(bytes.Clone(jpg), garbage...),
		"PNG of 36×4096 pixels":               encoded(t, "png", noise(36, 4096, 9)),
		"GIF whose frame is its screen":       gifWithFrame(t, 48, 48, 48, 48),
	}
	for name, b := range bad {
		if len(b) < minImageBytes {
			t.Fatalf("test image %q is %d bytes, under the 1 KB check", name, len(b))
		}
	}
	return bad, ok
}

// gifWithFrame is a GIF whose logical screen is sw×sh and whose one frame is fw×fh.
func gifWithFrame(t testing.TB, sw, sh, fw, fh int) []byte {
	t.Helper()
	b := encoded(t, "gif", noise(48, 48, 11))
	i := bytes.IndexByte(b[13+3*256:], 0x2C) + 13 + 3*256 // after the global colour table, if any
	if b[10]&0x80 == 0 {
		i = bytes.IndexByte(b[13:], 0x2C) + 13
	}
	binary.LittleEndian.PutUint16(b[6:], uint16(sw))
	binary.LittleEndian.PutUint16(b[8:], uint16(sh))
	binary.LittleEndian.PutUint16(b[i+5:], uint16(fw))
	binary.LittleEndian.PutUint16(b[i+7:], uint16(fh))
	return b
}

// secondFrameOutside is a valid 48×48 GIF followed by a second frame far outside its screen,
// which Go's decoder refuses ("frame bounds larger than image bounds").
func secondFrameOutside(t testing.TB) []byte {
	t.Helper()
	b := encoded(t, "gif", noise(48, 48, 12))
	frame := []byte{0x2C, 0x60, 0xEA, 0, 0, 0xE8, 0xFD, 48, 0, 0} // left 60000, width 65000
	frame = append(frame, 2, 2, 0x4C, 0x01, 0)                    // LZW minimum code size, one sub-block
	out := append(append(bytes.Clone(b[:len(b)-1]), frame...), 0x3B)
	if _, err := gif.DecodeAll(bytes.NewReader(out)); err == nil {
		t.Fatal("Go's GIF decoder reads the second frame outside the screen: the fixture proves nothing")
	}
	return out
}

// A GIF on a larger screen than its first frame (a crop that kept its canvas) is told how to fix it.
func TestAGIFFrameSmallerThanItsScreenIsExplained(t *testing.T) {
	err := checkImageContent(gifWithFrame(t, 60, 50, 48, 48))
	if err == nil || !strings.Contains(err.Error(), "first frame fills its screen") {
		t.Errorf("checkImageContent = %v, want the first-frame rule named", err)
	}
}

func TestCheckImageContent(t *testing.T) {
	bad, ok := imageCases(t)
	for name, b := range bad {
		if err := checkImageContent(b); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("%s: checkImageContent = %v, want an invalid request", name, err)
		}
	}
	for name, b := range ok {
		if err := checkImageContent(b); err != nil {
			t.Errorf("%s: checkImageContent = %v, want it accepted", name, err)
		}
	}
}

// A verify image Face would refuse is refused before any Face call, and changes nothing.
func TestStartSessionRefusesBadImagesWithoutCallingFace(t *testing.T) {
	a := newApp(t, nil)
	bad, ok := imageCases(t)
	for name, img := range bad {
		t.Run(name, func(t *testing.T) {
			a := a.on(t)
			before, faceCalls := a.rows(), a.stub.Stats().Total
			r := a.do("POST", "/api/sessions", []byte(`{"kind":"livenessWithVerify","verifyImage":"`+b64(img)+`"}`), nil)
			r.wantProblem(t, http.StatusBadRequest, "invalid_request")
			if got := a.stub.Stats().Total - faceCalls; got != 0 {
				t.Errorf("the Face stand-in got %d requests, want none", got)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %d rows → %d rows", len(before), len(after))
			}
		})
	}
	for name, img := range ok {
		t.Run("accepts "+name, func(t *testing.T) {
			a.on(t).start(`{"kind":"livenessWithVerify","verifyImage":"` + b64(img) + `"}`)
		})
	}
}

// Whatever the bytes, the check answers (never panics), and what it accepts the format's decoder
// reads with dimensions in Face's range.
func FuzzCheckImageContent(f *testing.F) {
	bad, ok := imageCases(f)
	for _, b := range bad {
		f.Add(b)
	}
	for _, b := range ok {
		if len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkImageContent(b)
		if err != nil {
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Fatalf("checkImageContent = %v, want nil or an invalid request", err)
			}
			return
		}
		cfg, _, derr := image.DecodeConfig(bytes.NewReader(b))
		if derr != nil {
			t.Fatalf("accepted an image the decoders cannot read: %v", derr)
		}
		if cfg.Width < minImageSide || cfg.Width > maxImageSide || cfg.Height < minImageSide || cfg.Height > maxImageSide {
			t.Fatalf("accepted an image of %d×%d pixels", cfg.Width, cfg.Height)
		}
	})
}
