package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

func fullSession() *liveness.Session {
	zone := time.FixedZone("UTC+1", 3600) // stored in UTC, so it must come back in UTC
	created := time.Date(2026, 3, 4, 5, 6, 7, 123456789, zone)
	return &liveness.Session{
		ID:                  strings.ToUpper(uuid.NewString()),
		Kind:                liveness.KindLivenessWithVerify,
		Mode:                liveness.ModePassiveActive,
		Status:              liveness.StatusCompleted,
		ExternalReference:   "order-42",
		DeviceCorrelationID: "device-7",
		ReturnURL:           "https://app.example/return?x=1",
		EnableSessionImage:  true,
		TTLSeconds:          86400,
		CreatedAt:           created,
		ExpiresAt:           created.Add(24 * time.Hour),
		LinkIssuedAt:        created.Add(time.Second),
		ReturnedAt:          created.Add(30 * time.Second),
		CompletedAt:         created.Add(time.Minute + time.Nanosecond),
		AuthToken:           "eyJ.secret.token",
		FaceDeleted:         true,
		Outcome: &liveness.Outcome{
			Decision:       "realface",
			AttemptCount:   3,
			Failure:        &liveness.Failure{Code: "FaceWithMaskDetected", Message: "Mask detected on face image."},
			Verify:         &liveness.VerifyResult{IsIdentical: true, MatchConfidence: 0.9876},
			ModelVersion:   "2024-11-15",
			Digest:         "B0A803BB7B26F3C8F29CD36030F8E63ED3FAF955FEEF8E01C88AB8FD89CCF761",
			SessionImageID: "3d035d35-2e01-4ed4-8935-577afde9caaa",
		},
	}
}

// The full fixture is only a round-trip test of every field while it sets every field.
func TestFullSessionSetsEveryField(t *testing.T) {
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		for i := range v.NumField() {
			name, f := v.Type().Field(i).Name, v.Field(i)
			if name == "ETag" {
				continue
			}
			if f.IsZero() {
				t.Errorf("fullSession leaves %s%s zero: give it a value so the round trip covers it", path, name)
				continue
			}
			if f.Kind() == reflect.Pointer && f.Elem().Kind() == reflect.Struct {
				walk(path+name+".", f.Elem())
			}
		}
	}
	walk("", reflect.ValueOf(*fullSession()))
}

func TestSessionRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	minimal := &liveness.Session{ID: uuid.NewString(), Kind: liveness.KindLiveness, Mode: liveness.ModePassive, Status: liveness.StatusCreated}
	plainOutcome := newSession()
	plainOutcome.Outcome = &liveness.Outcome{Decision: "spoofface", AttemptCount: 1, ModelVersion: "v1"}
	emptyParts := newSession()
	emptyParts.Outcome = &liveness.Outcome{Failure: &liveness.Failure{}, Verify: &liveness.VerifyResult{MatchConfidence: 1}}

	for name, sess := range map[string]*liveness.Session{
		"every field":                                fullSession(),
		"only what every session has":                minimal,
		"outcome without failure or verify":          plainOutcome,
		"empty outcome, failure, whole confidence 1": emptyParts,
	} {
		t.Run(name, func(t *testing.T) {
			want := stored(sess)
			f.createSession(t, sess)
			if sess.ETag == "" {
				t.Fatal("CreateSession left ETag empty")
			}
			got, err := f.store.GetSession(t.Context(), sess.ID)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			want.ETag = sess.ETag
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetSession after CreateSession (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutcomeIsStoredAsColumns(t *testing.T) {
	f := newFixture(t, nil)
	sess := fullSession()
	sess.Outcome.Verify.MatchConfidence = 1
	f.createSession(t, sess)
	row := f.rawRow(t, sess.ID, rowSession)
	for col, v := range row {
		if s, ok := v.(string); ok && (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) {
			t.Errorf("column %s holds a JSON blob %q; outcome fields must be columns", col, s)
		}
	}
	for col, want := range map[string]any{
		"OutcomeDecision":   "realface",
		"FailureCode":       "FaceWithMaskDetected",
		"VerifyIsIdentical": true,
		"Status":            "completed",
		"CreatedAt":         "2026-03-04T04:06:07.123456789Z",
	} {
		if row[col] != want {
			t.Errorf("column %s = %#v, want %#v", col, row[col], want)
		}
	}
	got, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.Outcome.Verify.MatchConfidence != 1 {
		t.Errorf("whole MatchConfidence came back as %v, want 1", got.Outcome.Verify.MatchConfidence)
	}
}

func TestCreateSessionTwiceIsAlreadyExists(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	again := *sess
	again.Status = liveness.StatusCanceled
	if err := f.store.CreateSession(t.Context(), &again); !errors.Is(err, liveness.ErrAlreadyExists) {
		t.Errorf("second CreateSession = %v, want ErrAlreadyExists", err)
	}
	if got, _ := f.store.GetSession(t.Context(), sess.ID); got == nil || got.Status != liveness.StatusCreated {
		t.Errorf("the losing CreateSession changed the session: %s", dump(got))
	}
}

// A session row this app did not write (a foreign or damaged one) is an error, never a session
// with empty or unknown fields, and never an error of a kind a client caused or could fix.
func TestForeignSessionRowsAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	for name, row := range map[string]map[string]any{
		"empty":          {},
		"unknown status": {"Kind": "liveness", "Mode": "Passive", "Status": "paused"},
		"unknown kind":   {"Kind": "other", "Mode": "Passive", "Status": "created"},
		"no mode":        {"Kind": "liveness", "Status": "created"},
	} {
		t.Run(name, func(t *testing.T) {
			id := uuid.NewString()
			row["PartitionKey"], row["RowKey"] = id, rowSession
			b, _ := json.Marshal(row)
			if _, err := f.raw.AddEntity(t.Context(), b, nil); err != nil {
				t.Fatalf("AddEntity: %v", err)
			}
			sess, err := f.store.GetSession(t.Context(), id)
			if err == nil {
				t.Fatalf("GetSession = %+v, want an error", sess)
			}
			for _, kind := range []error{liveness.ErrNotFound, liveness.ErrInvalidRequest, liveness.ErrConflict, liveness.ErrUpstreamUnavailable} {
				if errors.Is(err, kind) {
					t.Errorf("GetSession = %v, which is %v", err, kind)
				}
			}
		})
	}
}

func TestGetMissingSessionIsNotFound(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.GetSession(t.Context(), uuid.NewString()); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("GetSession(unknown) = %v, want ErrNotFound", err)
	}
}

func TestDiscardSessionDeletesTheRowOnce(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	if err := f.store.DiscardSession(t.Context(), sess.ID); err != nil {
		t.Fatalf("DiscardSession: %v", err)
	}
	if _, err := f.store.GetSession(t.Context(), sess.ID); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("GetSession after DiscardSession = %v, want ErrNotFound", err)
	}
	if err := f.store.DiscardSession(t.Context(), sess.ID); err != nil {
		t.Errorf("DiscardSession of a row already gone = %v, want nil", err)
	}
	if err := f.store.DiscardSession(t.Context(), "not-a-guid"); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("DiscardSession(not-a-guid) = %v, want ErrInvalidRequest", err)
	}
}

func TestUpdateSessionIsConditional(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	stale := *sess

	sess.Status = liveness.StatusLinkIssued
	sess.LinkIssuedAt = sess.CreatedAt.Add(time.Second)
	oldETag := sess.ETag
	if err := f.store.UpdateSession(t.Context(), sess); err != nil {
		t.Fatalf("UpdateSession with the current ETag: %v", err)
	}
	if sess.ETag == "" || sess.ETag == oldETag {
		t.Errorf("UpdateSession left ETag %q, want a new one", sess.ETag)
	}

	stale.Status = liveness.StatusCanceled
	if err := f.store.UpdateSession(t.Context(), &stale); !errors.Is(err, liveness.ErrConflict) {
		t.Errorf("UpdateSession with a stale ETag = %v, want ErrConflict", err)
	}
	got, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if diff := cmp.Diff(stored(sess), got); diff != "" {
		t.Errorf("a stale update changed the session (-want +got):\n%s", diff)
	}

	noETag := *got
	noETag.ETag = ""
	if err := f.store.UpdateSession(t.Context(), &noETag); err == nil {
		t.Error("UpdateSession without an ETag succeeded; it must never write unconditionally")
	}

	missing := newSession()
	missing.ETag = sess.ETag
	if err := f.store.UpdateSession(t.Context(), missing); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("UpdateSession(unknown) = %v, want ErrNotFound", err)
	}
}

func TestClearedAuthTokenLeavesNoColumn(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	if _, ok := f.rawRow(t, sess.ID, rowSession)["AuthToken"]; !ok {
		t.Fatal("a new session has no AuthToken column")
	}
	sess.AuthToken = ""
	sess.Status = liveness.StatusLinkIssued
	if err := f.store.UpdateSession(t.Context(), sess); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	if v, ok := f.rawRow(t, sess.ID, rowSession)["AuthToken"]; ok {
		t.Errorf("AuthToken column still present (%d chars) after the token was cleared", len(v.(string)))
	}
	got, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.AuthToken != "" {
		t.Error("GetSession returned a token after it was cleared")
	}
}

func TestOversizedPropertiesAreRejected(t *testing.T) {
	f := newFixture(t, nil)
	for name, mutate := range map[string]func(*liveness.Session){
		"return url":      func(s *liveness.Session) { s.ReturnURL = "https://x/" + strings.Repeat("a", maxStringBytes) },
		"failure message": func(s *liveness.Session) { s.Outcome.Failure.Message = strings.Repeat("é", maxStringBytes/2+1) },
		"ttl over int32":  func(s *liveness.Session) { s.TTLSeconds = 1 << 40 },
	} {
		t.Run(name, func(t *testing.T) {
			sess := fullSession()
			mutate(sess)
			if err := f.store.CreateSession(t.Context(), sess); !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Errorf("CreateSession = %v, want ErrInvalidRequest", err)
			}
			if reqs := f.http.take(); len(reqs) != 0 {
				t.Errorf("an oversized session was sent: %v", reqs)
			}
		})
	}
}

// stored is sess as the store gives it back: times in UTC.
func stored(sess *liveness.Session) *liveness.Session {
	c := *sess
	for _, t := range []*time.Time{&c.CreatedAt, &c.ExpiresAt, &c.LinkIssuedAt, &c.ReturnedAt, &c.CompletedAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	if sess.Outcome != nil {
		o := *sess.Outcome
		c.Outcome = &o
	}
	return &c
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMarkFaceDeletedChangesThatColumnOnly(t *testing.T) {
	f := newFixture(t, nil)
	sess := f.createSession(t, newSession())
	final := finalCopy(sess, "realface")
	if err := f.store.Finalize(t.Context(), final, []byte(`{}`)); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	before, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if before.FaceDeleted {
		t.Fatalf("FaceDeleted already set: the test proves nothing")
	}
	if err := f.store.MarkFaceDeleted(t.Context(), final); err != nil {
		t.Fatalf("MarkFaceDeleted: %v", err)
	}
	after, err := f.store.GetSession(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	want := *before
	want.FaceDeleted, want.ETag = true, after.ETag
	if diff := cmp.Diff(&want, after); diff != "" {
		t.Errorf("session after MarkFaceDeleted (-want +got):\n%s", diff)
	}
	if !final.FaceDeleted || final.ETag != after.ETag {
		t.Errorf("MarkFaceDeleted left the caller's copy at FaceDeleted=%v ETag=%q, want true and %q", final.FaceDeleted, final.ETag, after.ETag)
	}
}

func TestMarkFaceDeletedRefusesAnOpenOrMissingSession(t *testing.T) {
	f := newFixture(t, nil)
	open := f.createSession(t, newSession())
	if err := f.store.MarkFaceDeleted(t.Context(), open); !errors.Is(err, liveness.ErrInvalidRequest) {
		t.Errorf("MarkFaceDeleted on a created session = %v, want ErrInvalidRequest", err)
	}
	missing := finalCopy(newSession(), "realface")
	if err := f.store.MarkFaceDeleted(t.Context(), missing); !errors.Is(err, liveness.ErrNotFound) {
		t.Errorf("MarkFaceDeleted on a session never stored = %v, want ErrNotFound", err)
	}
	if _, err := f.raw.GetEntity(t.Context(), missing.ID, rowSession, nil); err == nil {
		t.Errorf("MarkFaceDeleted created a row for a session that did not exist")
	}
}
