package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// countingFace counts the calls that reach Face; it has no sessions.
type countingFace struct{ calls atomic.Int64 }

func (f *countingFace) Create(context.Context, face.Kind, face.CreateRequest) (*face.Session, error) {
	f.calls.Add(1)
	return nil, liveness.ErrUpstreamUnavailable
}

func (f *countingFace) Get(context.Context, face.Kind, string) (*face.Session, error) {
	f.calls.Add(1)
	return nil, liveness.ErrUpstreamUnavailable
}

func (f *countingFace) Delete(context.Context, face.Kind, string) error {
	f.calls.Add(1)
	return liveness.ErrUpstreamUnavailable
}

// countingStore counts session reads and has no sessions; any other method is a bug for the
// Callback of an unknown session, and panics (the nil interface).
type countingStore struct {
	SessionStore
	reads atomic.Int64
}

func (s *countingStore) GetSession(context.Context, string) (*liveness.Session, error) {
	s.reads.Add(1)
	return nil, liveness.ErrNotFound
}

// FuzzCallbackQuery: whatever the query, the Callback never answers 5xx, and neither Face nor the
// table is touched unless the signature verifies.
func FuzzCallbackQuery(f *testing.F) {
	const id = "6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	key := []byte("0123456789abcdef0123456789abcdef")
	signer, err := callbackurl.NewSigner([][]byte{key})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	valid, err := url.Parse(signer.URL(&url.URL{Scheme: "https", Host: "x"}, id, now.Add(time.Hour)))
	if err != nil {
		f.Fatal(err)
	}
	q := valid.RawQuery
	for _, seed := range []string{
		q, q + "&returnUrl=https://evil.example", q + "&sig=x", q + "&exp=1", "", "exp=&sig=", "sig=" + valid.Query().Get("sig"),
		"%zz", q + "&%zz", "exp=9999999999999999999999&sig=" + valid.Query().Get("sig"), q + ";a=b", "exp=1&exp=2",
	} {
		for m := range byte(3) {
			f.Add(m, seed)
		}
	}
	f.Fuzz(func(t *testing.T, m byte, rawQuery string) {
		fc, st := &countingFace{}, &countingStore{}
		srv := New(Deps{Face: fc, Store: st}, Settings{Callbacks: signer}, &Options{Now: func() time.Time { return now }})
		method := []string{http.MethodGet, http.MethodPost, http.MethodHead}[m%3]
		req := httptest.NewRequest(method, "/api/callback/"+id, nil)
		req.URL.RawQuery = rawQuery
		req.RequestURI = ""
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%s ?%q = %d, want no 5xx", method, rawQuery, rec.Code)
		}
		verified := signer.Verify(id, req.URL.Query(), now) == nil
		if !verified && (fc.calls.Load() != 0 || st.reads.Load() != 0) {
			t.Errorf("?%q does not verify, yet Face was called %d times and the table read %d times", rawQuery, fc.calls.Load(), st.reads.Load())
		}
		if !verified && rec.Code != http.StatusUnauthorized {
			t.Errorf("?%q does not verify, yet the answer is %d", rawQuery, rec.Code)
		}
		if verified && method != http.MethodHead && st.reads.Load() == 0 {
			t.Errorf("?%q verifies, yet the session was not read", rawQuery)
		}
	})
}
