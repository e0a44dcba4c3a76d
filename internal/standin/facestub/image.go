package facestub

import (
	"bytes"
	"image"
	"image/jpeg"
)

// isImage reports whether b starts like a JPEG, PNG, GIF or BMP file, the formats Face accepts.
func isImage(b []byte) bool {
	for _, magic := range [][]byte{
		{0xFF, 0xD8, 0xFF},
		[]byte("\x89PNG\r\n\x1a\n"),
		[]byte("GIF87a"), []byte("GIF89a"),
		[]byte("BM"),
	} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	return false
}

// sessionImage is the picture every session image shows: a small grey JPEG, enough for a client to store
// and decode.
func sessionImage() []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return buf.Bytes()
}
