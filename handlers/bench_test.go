package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
	"github.com/liveness-quicklink/functions/internal/store"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// BenchmarkParseStartRequest measures validation alone: the handler's own CPU per StartSession,
// with and without the largest verify image the API takes.
func BenchmarkParseStartRequest(b *testing.B) {
	img := largestJPEG(b)
	bodies := map[string][]byte{
		"minimal": []byte(`{"externalReference":"order-42","ttlSeconds":600}`),
		"verify6MB": []byte(`{"kind":"livenessWithVerify","verifyImage":"` +
			base64.StdEncoding.EncodeToString(img) + `"}`),
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseStartRequest(body, liveness.ModePassiveActive, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// largestJPEG is a real JPEG of noise close to the API's largest verify image (maxImageBytes), so
// the benchmark pays for the whole structure walk of checkImageContent, as a real photo would.
func largestJPEG(b *testing.B) []byte {
	b.Helper()
	return jpegUpTo(b, maxImageBytes)
}

// BenchmarkStartGetSession is one StartSession and one GetSession through the real handler, Face
// client, stand-in and Azurite. On 2 cores Azurite dominates: compare runs of this benchmark with each other, not with Azure.
func BenchmarkStartGetSession(b *testing.B) {
	srv, _, _ := benchServer(b, time.Now)
	h := srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/sessions", bytes.NewReader([]byte(`{"externalReference":"bench"}`)))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("StartSession = %d %s", rec.Code, rec.Body)
		}
		var v sessionView
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			b.Fatal(err)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/sessions/"+v.SessionID, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GetSession = %d %s", rec.Code, rec.Body)
		}
	}
}

// benchServer is a Server on Azurite (a table prefix of its own) and the Face stand-in, with
// now as its clock and the store's, and no quick link service or Service Bus.
func benchServer(b *testing.B, now func() time.Time) (*Server, *facestub.Server, *atomic.Int64) {
	b.Helper()
	az := testenv.StartAzurite(b)
	tableCalls := new(atomic.Int64)
	svc, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString(), &aztables.ClientOptions{
		ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{countCalls{tableCalls}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.New(b.Context(), svc, &store.Options{TablePrefix: "bench" + randomHex(b, 6), Now: now})
	if err != nil {
		b.Fatal(err)
	}
	stub := facestub.New(&facestub.Options{APIKey: "bench-key"})
	faceSrv := httptest.NewServer(stub)
	b.Cleanup(faceSrv.Close)
	b.Cleanup(stub.Close)
	fc, err := face.NewClient(faceSrv.URL, nil, &face.ClientOptions{
		ClientOptions: azcore.ClientOptions{InsecureAllowCredentialWithHTTP: true},
		APIKey:        "bench-key",
	})
	if err != nil {
		b.Fatal(err)
	}
	settings := Settings{PublicBaseURL: "https://bench.example", DefaultMode: liveness.ModePassiveActive, DeleteFaceSessions: true}
	return New(Deps{Face: fc, Store: st}, settings, &Options{Now: now}), stub, tableCalls
}

// countCalls is an azcore policy counting the table operations a benchmark makes (a batch is one).
type countCalls struct{ n *atomic.Int64 }

func (c countCalls) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}
