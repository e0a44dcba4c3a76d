package face

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
)

// concatReader reads and seeks as one reader over its parts, empty parts included.
func TestConcatReader(t *testing.T) {
	for _, parts := range [][]string{
		{"head", "image bytes", "tail"},
		{"", "a", "", "bc", ""},
		{"only"},
		{},
	} {
		bs := make([][]byte, len(parts))
		for i, p := range parts {
			bs[i] = []byte(p)
		}
		if err := iotest.TestReader(&concatReader{parts: bs}, []byte(strings.Join(parts, ""))); err != nil {
			t.Errorf("concatReader%q: %v", parts, err)
		}
	}
}

// A retried create sends the whole form again: the body is rewound, not read on from where the
// failed try left it.
func TestCreateVerifyRetrySendsTheImageAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unavailable := faceError(http.StatusServiceUnavailable, "ServiceUnavailable", nil)
		rec := newRecorder(unavailable, unavailable, ok(sessionJSON))
		c := bubbleClient(t, rec, nil)
		img := append(bytes.Clone(jpeg), bytes.Repeat([]byte{7}, 100_000)...)
		if _, err := c.Create(context.Background(), KindLivenessWithVerify, CreateRequest{Mode: "Passive", VerifyImage: img}); err != nil {
			t.Fatalf("Create after two 503s: %v", err)
		}
		reqs := rec.requests()
		if len(reqs) != 3 {
			t.Fatalf("tries = %d, want 3", len(reqs))
		}
		for i, r := range reqs {
			if _, file := parseForm(t, r); file == nil || !bytes.Equal(file.data, img) {
				t.Errorf("try %d: the verifyImage part is not the image sent", i+1)
			}
		}
	})
}

// The image goes into the request as it is, not copied into a buffer: a 6 MB create allocates a
// small part of the image's size (issue 11, item 6). runtime.SetMultipartFormData allocated
// about 2.5 times it.
func TestCreateVerifyDoesNotCopyTheImage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, sessionJSON)
	}))
	defer srv.Close()
	c := keyClient(t, srv.URL, nil, nil)
	img := append(bytes.Clone(jpeg), make([]byte, 6<<20-len(jpeg))...)
	limit := uint64(len(img) / 8)
	least := ^uint64(0)
	for range 3 { // the least of three: the server's goroutines allocate too
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := c.Create(context.Background(), KindLivenessWithVerify, CreateRequest{Mode: "Passive", VerifyImage: img})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > limit {
		t.Errorf("Create with a %d-byte image allocated %d bytes, want at most %d", len(img), least, limit)
	}
}
