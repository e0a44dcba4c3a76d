package handlers

import (
	"bytes"
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// TestReadBodyAllocatesWhatArrives: a request that declares a body of nearly the limit and sends
// two bytes costs about what arrived, not the declared length (a stalled client must not hold
// megabytes); a body that does send its declared length is still read whole and right.
func TestReadBodyAllocatesWhatArrives(t *testing.T) {
	const limit = 10 << 20
	r := httptest.NewRequest("POST", "/api/sessions", io.NopCloser(strings.NewReader("{}")))
	r.ContentLength = limit
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	body, err := readBody(r, limit)
	runtime.ReadMemStats(&after)
	if err != nil || string(body) != "{}" {
		t.Fatalf("readBody = %q, %v; want {}", body, err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*eagerBodyBytes {
		t.Errorf("reading a 2-byte body declared %d bytes allocated %d bytes, want at most %d", int64(limit), got, 2*eagerBodyBytes)
	}

	big := bytes.Repeat([]byte("a"), 3*eagerBodyBytes+7)
	r = httptest.NewRequest("POST", "/api/sessions", bytes.NewReader(big))
	body, err = readBody(r, limit)
	if err != nil || !bytes.Equal(body, big) {
		t.Errorf("readBody of %d bytes = %d bytes, %v; want them all", len(big), len(body), err)
	}
}
