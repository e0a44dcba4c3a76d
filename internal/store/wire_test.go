package store

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"
	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/testing/testenv"
)

// answers is an HTTP transport that remembers, for each request, "METHOD status, N body bytes".
type answers struct {
	mu  sync.Mutex
	got []string
}

func (a *answers) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	a.mu.Lock()
	a.got = append(a.got, fmt.Sprintf("%s %d, %d body bytes", req.Method, resp.StatusCode, len(body)))
	a.mu.Unlock()
	return resp, nil
}

func (a *answers) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	got := a.got
	a.got = nil
	return got
}

// Inserts ask Azurite (as Azure) not to echo the row: the session insert and the Idempotency-Key
// reservation are answered 204 without a body (the session's row would carry its Face token back),
// and the ETag they set is still the row's. Before, both were answered 201 with the whole row.
func TestInsertsAreAnsweredWithoutTheRow(t *testing.T) {
	rec := &answers{}
	svc, err := aztables.NewServiceClientFromConnectionString(testenv.StartAzurite(t).ConnectionString(),
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), svc, &Options{TablePrefix: "w" + randomHex(t, 6)})
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	sess := newSession()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	rk := &liveness.IdempotencyRecord{KeyHash: randomHex(t, 32), BodyHash: randomHex(t, 32), CreatedAt: sess.CreatedAt}
	if _, err := s.ReserveIdempotencyKey(t.Context(), rk); err != nil {
		t.Fatalf("ReserveIdempotencyKey: %v", err)
	}
	want := []string{"POST 204, 0 body bytes", "POST 204, 0 body bytes"}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("answers to the inserts (-want +got):\n%s", diff)
	}
	got, err := s.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if sess.ETag == "" || got.ETag != sess.ETag {
		t.Errorf("ETag after CreateSession = %q, the row's = %q: want the row's", sess.ETag, got.ETag)
	}
	row, _, err := s.getIdempotency(t.Context(), rk.KeyHash)
	if err != nil {
		t.Fatalf("reading the reservation: %v", err)
	}
	if rk.ETag == "" || rk.ETag != row.ETag {
		t.Errorf("ETag after ReserveIdempotencyKey = %q, the row's = %q: want the row's", rk.ETag, row.ETag)
	}
}

// A point read through this package's client hands aztables no body (it would decode the row
// into a map and encode it again) and the store the row as sent, which it decodes once; what
// the store reads is the same as through a plain client, which takes the SDK's path.
func TestReadsDecodeTheRowOnce(t *testing.T) {
	cs := testenv.StartAzurite(t).ConnectionString()
	ours, err := NewServiceClientFromConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := aztables.NewServiceClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "r" + randomHex(t, 6)
	s, err := New(t.Context(), ours, &Options{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	viaPlain, err := New(t.Context(), plain, &Options{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	sess := finalCopy(newSession(), "realface")
	sess.Outcome.Verify = &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 1}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	ctx, raw := withRawRow(t.Context())
	resp, err := s.table.GetEntity(ctx, sess.ID, rowSession, nil)
	if err != nil {
		t.Fatalf("GetEntity: %v", err)
	}
	if string(resp.Value) != "null" || len(raw.body) == 0 {
		t.Errorf("aztables got %q and the store %d bytes; want aztables nothing (null) and the store the row", resp.Value, len(raw.body))
	}

	got, err := s.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	want, err := viaPlain.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession through a plain client: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session read once vs through the SDK's decoding (-SDK +once):\n%s", diff)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("session read back (-stored +read):\n%s", diff)
	}
}
