package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestBadIDsAndKeysNeverReachTheService(t *testing.T) {
	f := newFixture(t, nil)
	s := f.store
	badIDs := []string{
		"", "'", "' or 1 eq 1", "x' or PartitionKey ne '", "../x", "due-202601010000",
		"0f8fad5b-d9cb-469f-a165-70867728950e'", "0f8fad5b-d9cb-469f-a165-70867728950e\n",
		"{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5bd9cb469fa16570867728950e",
	}
	goodKey := strings.Repeat("ab", 32)
	calls := map[string]func(id string) error{
		"CreateSession": func(id string) error { return s.CreateSession(t.Context(), &liveness.Session{ID: id}) },
		"GetSession":    func(id string) error { _, err := s.GetSession(t.Context(), id); return err },
		"UpdateSession": func(id string) error { return s.UpdateSession(t.Context(), &liveness.Session{ID: id, ETag: "*"}) },
		"Finalize": func(id string) error {
			return s.Finalize(t.Context(), &liveness.Session{ID: id, Status: liveness.StatusCompleted, ETag: "*"}, []byte("{}"))
		},
		"MarkEventSent": func(id string) error { return s.MarkEventSent(t.Context(), id) },
		"PendingEvent":  func(id string) error { _, _, err := s.PendingEvent(t.Context(), id); return err },
		"AddDue": func(id string) error {
			return s.AddDue(t.Context(), liveness.DueItem{SessionID: id, Reason: liveness.DueExpire, Due: time.Now()})
		},
		"DeleteDue": func(id string) error {
			return s.DeleteDue(t.Context(), liveness.DueItem{SessionID: id, Reason: liveness.DueExpire, Due: time.Now()})
		},
		"ReserveIdempotencyKey (session id)": func(id string) error {
			_, err := s.ReserveIdempotencyKey(t.Context(), &liveness.IdempotencyRecord{KeyHash: goodKey, SessionID: id})
			return err
		},
		"CompleteIdempotencyKey (session id)": func(id string) error {
			return s.CompleteIdempotencyKey(t.Context(), &liveness.IdempotencyRecord{KeyHash: goodKey, SessionID: id, ETag: "*"})
		},
		"ReserveIdempotencyKey (key)": func(key string) error {
			_, err := s.ReserveIdempotencyKey(t.Context(), &liveness.IdempotencyRecord{KeyHash: key})
			return err
		},
		"CompleteIdempotencyKey (key)": func(key string) error {
			return s.CompleteIdempotencyKey(t.Context(), &liveness.IdempotencyRecord{KeyHash: key, SessionID: "0f8fad5b-d9cb-469f-a165-70867728950e", ETag: "*"})
		},
		"ReleaseIdempotencyKey (key)": func(key string) error {
			return s.ReleaseIdempotencyKey(t.Context(), &liveness.IdempotencyRecord{KeyHash: key, ETag: "*"})
		},
	}
	badKeys := append(badIDs, strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("g", 64))
	for name, call := range calls {
		bad := badIDs
		if strings.HasSuffix(name, "(key)") {
			bad = badKeys
		}
		for _, id := range bad {
			if id == "" && name == "ReserveIdempotencyKey (session id)" {
				continue // a reservation starts without a session id
			}
			if err := call(id); !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Errorf("%s(%q) = %v, want ErrInvalidRequest", name, id, err)
			}
		}
		if reqs := f.http.take(); len(reqs) != 0 {
			t.Errorf("%s sent requests for invalid input: %v", name, reqs)
		}
	}
}
