package facestub_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// BenchmarkCreate is one create through the stand-in's handler (no sockets) with 0, 1,000 and
// 10,000 sessions live: the figures should be flat, so that local load figures measure the app
// and not the stand-in (issue 11, item 8).
func BenchmarkCreate(b *testing.B) {
	for _, live := range []int{0, 1_000, 10_000} {
		b.Run(strconv.Itoa(live)+"-live", func(b *testing.B) {
			stub := facestub.New(&facestub.Options{APIKey: "bench-key"})
			b.Cleanup(stub.Close)
			create := func() {
				req := httptest.NewRequest(http.MethodPost, livenessPath, strings.NewReader(validCreate))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Ocp-Apim-Subscription-Key", "bench-key")
				rec := httptest.NewRecorder()
				stub.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("create: %d %s", rec.Code, rec.Body)
				}
			}
			for range live {
				create()
			}
			b.ReportAllocs()
			for b.Loop() {
				create()
			}
		})
	}
}
