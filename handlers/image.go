package handlers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Face's image limits (Face v1.2 reference; Learn, "Face identity input technicals"): JPEG, PNG,
// GIF (first frame) and BMP, and faces of 36×36 to 4096×4096 pixels. An image with a side outside
// that range cannot hold a face Face detects, so it is refused here rather than sent.
const (
	minImageSide = 36
	maxImageSide = 4096
)

// checkImageContent refuses an image Face would refuse, before any upstream call: the format by
// its signature, then the format's own decoder reads the header (image.Config: dimensions, no
// pixels), and a walk over the file's structure finds its end, so a signature followed by garbage,
// a truncated file, a PNG or GIF with data past its end, or a GIF/JS polyglot (whose "width" is
// the text "/*", or whose first frame is not the image its screen claims) costs no Face call. A
// JPEG may carry data past its end: phones append their own trailers there.
//
// Each format's decoder is called directly rather than through image.DecodeConfig, so what is
// accepted does not depend on which packages registered a format. BMP is read by
// golang.org/x/image/bmp, which knows the uncompressed layouts cameras and editors write.
func checkImageContent(b []byte) error {
	const field = "verifyImage"
	var (
		name  string
		cfg   image.Config
		err   error
		whole func([]byte) error
	)
	r := bytes.NewReader(b)
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		name, whole = "JPEG", jpegComplete
		cfg, err = jpeg.DecodeConfig(r)
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		name, whole = "PNG", pngComplete
		cfg, err = png.DecodeConfig(r)
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		name, whole = "GIF", gifComplete
		cfg, err = gif.DecodeConfig(r)
	case bytes.HasPrefix(b, []byte("BM")):
		name, whole = "BMP", bmpComplete
		cfg, err = bmp.DecodeConfig(r)
	default:
		return liveness.Invalid(field, "must be a JPEG, PNG, BMP or GIF image")
	}
	if err != nil {
		return liveness.Invalid(field, "is not a readable "+name+" image")
	}
	if cfg.Width < minImageSide || cfg.Width > maxImageSide || cfg.Height < minImageSide || cfg.Height > maxImageSide {
		return liveness.Invalid(field, fmt.Sprintf("must be %d to %d pixels wide and high (is %d×%d)",
			minImageSide, maxImageSide, cfg.Width, cfg.Height))
	}
	if err := whole(b); errors.Is(err, errFrameNotScreen) {
		return liveness.Invalid(field, "must be a GIF whose first frame fills its screen (crop it to the frame)")
	} else if err != nil {
		return liveness.Invalid(field, "is not a complete "+name+" image (truncated or corrupt)")
	}
	return nil
}

var (
	errIncomplete     = errors.New("incomplete image")
	errFrameNotScreen = errors.New("the first frame is not the whole screen")
)

// jpegComplete walks the segments to the first scan and finds the end-of-image marker after it.
// Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FF D9 there
// is the end; data some cameras append after it is allowed. The walk skips APPn segments whole,
// so a thumbnail's own end marker in EXIF does not count.
func jpegComplete(b []byte) error {
	i := 2
	for {
		for i < len(b) && b[i] == 0xFF && i+1 < len(b) && b[i+1] == 0xFF {
			i++ // fill bytes
		}
		if i+4 > len(b) || b[i] != 0xFF {
			return errIncomplete
		}
		m := b[i+1]
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return errIncomplete
		}
		if m == 0xDA { // start of scan
			if !bytes.Contains(b[i+2+n:], []byte{0xFF, 0xD9}) {
				return errIncomplete
			}
			return nil
		}
		i += 2 + n
	}
}

// pngComplete walks the chunks, each with its CRC, through IEND, and wants image data on the way.
func pngComplete(b []byte) error {
	i, data := 8, false
	for i+12 <= len(b) {
		n := binary.BigEndian.Uint32(b[i:])
		if uint64(n) > uint64(len(b)-i-12) {
			return errIncomplete
		}
		end := i + 8 + int(n)
		if crc32.ChecksumIEEE(b[i+4:end]) != binary.BigEndian.Uint32(b[end:]) {
			return errIncomplete
		}
		switch string(b[i+4 : i+8]) {
		case "IDAT":
			data = true
		case "IEND": // the last chunk (PNG §5.6): nothing, such as a script, may follow it
			if !data || end+4 != len(b) {
				return errIncomplete
			}
			return nil
		}
		i = end + 4
	}
	return errIncomplete
}

// gifComplete walks the blocks (extensions and images, each a run of sub-blocks) to the trailer,
// which must end the file, and wants at least one image on the way, each inside the screen and
// the first the whole screen (see frameFits).
func gifComplete(b []byte) error {
	i := 13 // header and logical screen descriptor
	if len(b) < i {
		return errIncomplete
	}
	if b[10]&0x80 != 0 { // global colour table
		i += 3 << (b[10]&7 + 1)
	}
	images := 0
	subBlocks := func() bool {
		for i < len(b) {
			n := int(b[i])
			i += 1 + n
			if n == 0 {
				return i <= len(b)
			}
		}
		return false
	}
	for i < len(b) {
		switch b[i] {
		case 0x3B: // trailer
			if images == 0 || i+1 != len(b) {
				return errIncomplete
			}
			return nil
		case 0x21: // extension: label, then sub-blocks
			i += 2
			if !subBlocks() {
				return errIncomplete
			}
		case 0x2C: // image descriptor, local colour table, LZW code size, then sub-blocks
			if i+10 > len(b) {
				return errIncomplete
			}
			if !frameFits(b, i, images == 0) {
				if images == 0 {
					return errFrameNotScreen
				}
				return errIncomplete
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << (flags&7 + 1)
			}
			i++ // LZW minimum code size
			if !subBlocks() {
				return errIncomplete
			}
			images++
		default:
			return errIncomplete
		}
	}
	return errIncomplete
}

// frameFits reports whether the image descriptor at i (left, top, width, height) lies inside
// the logical screen, as Go's own decoder requires of every frame. The first frame, the one Face
// reads, must also be the whole screen: then the screen's size is the image's, and a polyglot
// cannot spell a screen in range ("=\n1\n" is 2621×2609) around a small frame.
func frameFits(b []byte, i int, first bool) bool {
	screenW, screenH := int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:]))
	left, top := int(binary.LittleEndian.Uint16(b[i+1:])), int(binary.LittleEndian.Uint16(b[i+3:]))
	w, h := int(binary.LittleEndian.Uint16(b[i+5:])), int(binary.LittleEndian.Uint16(b[i+7:]))
	if first {
		return left == 0 && top == 0 && w == screenW && h == screenH
	}
	return left+w <= screenW && top+h <= screenH
}

// bmpComplete checks the pixel array the headers describe lies within the file (the layouts
// x/image/bmp reads are uncompressed: rows of bits per pixel, padded to 4 bytes).
func bmpComplete(b []byte) error {
	if len(b) < 30 {
		return errIncomplete
	}
	offset := int64(binary.LittleEndian.Uint32(b[10:]))
	w := int64(int32(binary.LittleEndian.Uint32(b[18:])))
	h := int64(int32(binary.LittleEndian.Uint32(b[22:])))
	bpp := int64(binary.LittleEndian.Uint16(b[28:]))
	if h < 0 {
		h = -h // top-down rows
	}
	row := (bpp*w + 31) / 32 * 4
	if offset+row*h > int64(len(b)) {
		return errIncomplete
	}
	return nil
}
