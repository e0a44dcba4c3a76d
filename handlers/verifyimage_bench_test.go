package handlers

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/jpeg"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// verifyImageSizes are the sizes issue 11 measures: a typical phone photo and the API's largest.
var verifyImageSizes = []struct {
	name string
	max  int
}{
	{"1MB", 1 << 20},
	{"6MB", maxImageBytes},
}

// BenchmarkVerifyImageParse is parseStartRequest of a livenessWithVerify body: the JSON, the
// base64 and the image checks, the handler's own work before any upstream call. B/op is compared
// with the image's size (the goal: at most twice it).
func BenchmarkVerifyImageParse(b *testing.B) {
	for _, size := range verifyImageSizes {
		img := jpegUpTo(b, size.max)
		body := verifyBody(img)
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseStartRequest(body, liveness.ModePassiveActive, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(img)), "image-bytes")
		})
	}
}

// BenchmarkVerifyImageStart is a whole livenessWithVerify StartSession through the handler: body
// read, parse, the Face client's multipart request to the stand-in, and the table writes to
// Azurite. The stand-in and Azurite run in and beside this process, so ns/op is the whole
// machine's, not the handler's alone; B/op counts this process's allocations, the stand-in's
// reading of the image included.
func BenchmarkVerifyImageStart(b *testing.B) {
	srv, _, _ := benchServer(b, time.Now)
	h := srv.Handler()
	for _, size := range verifyImageSizes {
		body := verifyBody(jpegUpTo(b, size.max))
		b.Run(size.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, "/api/sessions", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("StartSession = %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// verifyBody is a livenessWithVerify StartSession body carrying img.
func verifyBody(img []byte) []byte {
	return fmt.Appendf(nil, `{"kind":"livenessWithVerify","verifyImage":"%s"}`, base64.StdEncoding.EncodeToString(img))
}

// jpegUpTo is a square JPEG of noise of at most limit bytes, a real image
// whose whole structure checkImageContent walks. Noise at quality 95 takes about 1.2 bytes a
// pixel, which gives the first side to try; sides then shrink by 2%.
func jpegUpTo(b testing.TB, limit int) []byte {
	b.Helper()
	for side := int(math.Sqrt(float64(limit) / 1.2)); side >= minImageSide; side -= max(side/50, 1) {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, noise(side, side, 3), &jpeg.Options{Quality: 95}); err != nil {
			b.Fatalf("encode JPEG: %v", err)
		}
		if buf.Len() <= limit {
			return buf.Bytes()
		}
	}
	b.Fatalf("no JPEG of noise fits %d bytes", limit)
	return nil
}
