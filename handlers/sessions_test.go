package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestStartSession(t *testing.T) {
	png, jpg := pngImage(t), jpegImage(t)
	tests := []struct {
		name string
		body string
		want liveness.Session // the fields the store must hold
	}{
		{"liveness with defaults", ``, liveness.Session{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600}},
		{"empty object", `{}`, liveness.Session{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600}},
		{
			"liveness with every field",
			`{"kind":"liveness","mode":"Passive","externalReference":"order-42","deviceCorrelationId":"device-7",
			  "returnUrl":"https://app.example.com/done?step=2","ttlSeconds":3600,"issueLink":false,"enableSessionImage":true}`,
			liveness.Session{Kind: liveness.KindLiveness, Mode: liveness.ModePassive, ExternalReference: "order-42",
				DeviceCorrelationID: "device-7", ReturnURL: "https://app.example.com/done?step=2", TTLSeconds: 3600, EnableSessionImage: true},
		},
		{
			"livenessWithVerify with a PNG",
			`{"kind":"livenessWithVerify","verifyImage":"` + b64(png) + `","returnUrl":"http://localhost:3000/back"}`,
			liveness.Session{Kind: liveness.KindLivenessWithVerify, Mode: liveness.ModePassiveActive, ReturnURL: "http://localhost:3000/back", TTLSeconds: 600},
		},
		{
			"livenessWithVerify with a JPEG and every field",
			`{"kind":"livenessWithVerify","mode":"PassiveActive","verifyImage":"` + b64(jpg) + `","externalReference":"kyc-1",
			  "deviceCorrelationId":"d-1","ttlSeconds":60,"enableSessionImage":false}`,
			liveness.Session{Kind: liveness.KindLivenessWithVerify, Mode: liveness.ModePassiveActive, ExternalReference: "kyc-1",
				DeviceCorrelationID: "d-1", TTLSeconds: 60},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, nil)
			if err := a.api.validateRequest(mustRequest(t, "POST", "/api/sessions", a.functionKey), []byte(tt.body)); err != nil {
				t.Errorf("api/openapi.yaml rejects a request the handler accepts: %v", err)
			}
			r := a.do("POST", "/api/sessions", []byte(tt.body), nil)
			if r.status != http.StatusCreated {
				t.Fatalf("status = %d, want 201 (body %.300s)", r.status, r.body)
			}
			v := r.session(t)
			if loc := r.header.Get("Location"); loc != "/api/sessions/"+v.SessionID {
				t.Errorf("Location = %q, want /api/sessions/%s", loc, v.SessionID)
			}
			now := a.clock.Now()
			want := sessionView{
				SessionID: v.SessionID, Kind: tt.want.Kind, Status: liveness.StatusCreated, ExternalReference: tt.want.ExternalReference,
				CreatedAt: timestamp(now), ExpiresAt: timestamp(now.Add(time.Duration(tt.want.TTLSeconds) * time.Second)),
			}
			if diff := cmp.Diff(want, v); diff != "" {
				t.Errorf("started session (-want +got):\n%s", diff)
			}

			tokens := a.stub.IssuedTokens()
			if len(tokens) != 1 {
				t.Fatalf("the stand-in issued %d tokens, want 1", len(tokens))
			}
			if got := a.stub.Stats().Create; got != 1 {
				t.Errorf("Face creates = %d, want 1", got)
			}
			fs, err := a.faceSession(tt.want.Kind, v.SessionID)
			if err != nil {
				t.Fatalf("the Face session %s does not exist: %v", v.SessionID, err)
			}
			if fs.AuthToken != tokens[0] {
				t.Errorf("the session id is not the id of the Face session that token belongs to")
			}

			stored, err := a.store.GetSession(t.Context(), v.SessionID)
			if err != nil {
				t.Fatalf("store.GetSession: %v", err)
			}
			if stored.AuthToken != tokens[0] {
				t.Errorf("the stored auth token is not the one Face issued; it must be kept until the link is issued")
			}
			wantDevice := tt.want.DeviceCorrelationID
			if wantDevice == "" {
				if _, err := uuid.Parse(stored.DeviceCorrelationID); err != nil {
					t.Errorf("default deviceCorrelationId %q is not a UUID", stored.DeviceCorrelationID)
				}
				wantDevice = stored.DeviceCorrelationID
			}
			if stored.Kind != tt.want.Kind || stored.Mode != tt.want.Mode || stored.ReturnURL != tt.want.ReturnURL ||
				stored.TTLSeconds != tt.want.TTLSeconds || stored.EnableSessionImage != tt.want.EnableSessionImage ||
				stored.DeviceCorrelationID != wantDevice || stored.ExternalReference != tt.want.ExternalReference {
				t.Errorf("stored session = kind %s mode %s returnUrl %q ttl %d image %v device %q ref %q, want %+v",
					stored.Kind, stored.Mode, stored.ReturnURL, stored.TTLSeconds, stored.EnableSessionImage,
					stored.DeviceCorrelationID, stored.ExternalReference, tt.want)
			}

			got := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil)
			if got.status != http.StatusOK {
				t.Fatalf("GET = %d, want 200 (body %s)", got.status, got.body)
			}
			if diff := cmp.Diff(v, got.session(t)); diff != "" {
				t.Errorf("GET differs from what StartSession answered (-start +get):\n%s", diff)
			}
		})
	}
}

// mustRequest builds a request for contract checks only; it is never sent.
func mustRequest(t *testing.T, method, path, functionKey string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://localhost"+path, http.NoBody)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("x-functions-key", functionKey)
	return r
}

func TestGetSessionIsCaseInsensitive(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(`{"externalReference":"x"}`)
	r := a.do("GET", "/API/Sessions/"+strings.ToUpper(v.SessionID), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET with an upper-case id = %d, want 200 (body %s)", r.status, r.body)
	}
	if got := r.session(t).SessionID; got != v.SessionID {
		t.Errorf("sessionId = %s, want %s", got, v.SessionID)
	}
}

func TestUnknownSession(t *testing.T) {
	a := newApp(t, nil)
	id := uuid.NewString()
	for _, method := range []string{"GET", "DELETE"} {
		r := a.do(method, "/api/sessions/"+id, nil, nil)
		r.wantProblem(t, http.StatusNotFound, "session_not_found")
	}
	if got := a.stub.Stats().Total; got != 0 {
		t.Errorf("the Face stand-in got %d requests, want none", got)
	}
}

func TestCancelSession(t *testing.T) {
	for _, kind := range []liveness.Kind{liveness.KindLiveness, liveness.KindLivenessWithVerify} {
		t.Run(string(kind), func(t *testing.T) {
			a := newApp(t, nil)
			body := `{"externalReference":"c-1"}`
			if kind == liveness.KindLivenessWithVerify {
				body = `{"kind":"livenessWithVerify","externalReference":"c-1","verifyImage":"` + b64(pngImage(t)) + `"}`
			}
			v := a.start(body)
			a.clock.Advance(5 * time.Second)

			first := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
			if first.status != http.StatusOK {
				t.Fatalf("DELETE = %d, want 200 (body %s)", first.status, first.body)
			}
			c := first.session(t)
			if c.Status != liveness.StatusCanceled || c.CompletedAt != timestamp(a.clock.Now()) || c.Passed == nil || *c.Passed {
				t.Errorf("canceled session = status %s completedAt %q passed %v, want canceled at %s, passed false",
					c.Status, c.CompletedAt, c.Passed, timestamp(a.clock.Now()))
			}
			if _, err := a.faceSession(kind, v.SessionID); !face.IsNotFound(err) {
				t.Errorf("reading the Face session after cancel: %v, want 404 (it must be deleted)", err)
			}
			stored, err := a.store.GetSession(t.Context(), v.SessionID)
			if err != nil {
				t.Fatalf("store.GetSession: %v", err)
			}
			if stored.AuthToken != "" || !stored.FaceDeleted {
				t.Errorf("stored session keeps token %v, faceDeleted %v; want no token and faceDeleted", stored.AuthToken != "", stored.FaceDeleted)
			}
			if ev := a.sentEvent(v.SessionID); !contains(ev, `"Liveness.Session.Canceled"`) {
				t.Errorf("outbox event = %s; want a Liveness.Session.Canceled event", ev)
			}

			deletes := a.stub.Stats().Delete
			a.clock.Advance(5 * time.Second)
			second := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
			if second.status != http.StatusOK || string(second.body) != string(first.body) {
				t.Errorf("second DELETE = %d %s, want the first answer again: 200 %s", second.status, second.body, first.body)
			}
			if got := a.stub.Stats().Delete; got != deletes {
				t.Errorf("the second cancel deleted at Face again (%d deletes, want %d)", got, deletes)
			}
			if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil); g.session(t).Status != liveness.StatusCanceled {
				t.Errorf("GET after cancel = %s, want status canceled", g.body)
			}
		})
	}
}

func TestCancelFinalSessionIsConflict(t *testing.T) {
	a := newApp(t, nil)
	v := a.start(``)
	a.passDue(v)
	a.reconcile()
	before := a.rows()
	faceCalls := a.stub.Stats().Total

	r := a.do("DELETE", "/api/sessions/"+v.SessionID, nil, nil)
	r.wantProblem(t, http.StatusConflict, "session_finalized")
	if g := a.do("GET", "/api/sessions/"+v.SessionID, nil, nil).session(t); g.Status != liveness.StatusExpired {
		t.Errorf("status after a refused cancel = %s, want expired", g.Status)
	}
	if got := a.stub.Stats().Total; got != faceCalls {
		t.Errorf("a refused cancel called Face %d times", got-faceCalls)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("a refused cancel changed the table: %v → %v", before, after)
	}
}

func TestHealth(t *testing.T) {
	a := newApp(t, nil)
	r := a.do("GET", "/api/health", nil, map[string]string{"x-functions-key": ""})
	if r.status != http.StatusOK || string(r.body) != "{\"status\":\"ok\"}\n" {
		t.Errorf("health = %d %s, want 200 {\"status\":\"ok\"}", r.status, r.body)
	}

	probes := 0
	a.srv.opts.Ready = func(context.Context) error {
		probes++
		return errors.New("table service at 10.1.2.3 refused")
	}
	a.clock.Set(a.clock.Now().Add(healthTTL)) // past the window of the last answer
	for range 3 {
		r = a.do("GET", "/api/health", nil, map[string]string{"x-functions-key": ""})
		if r.status != http.StatusServiceUnavailable || contains(r.body, "10.1.2.3") {
			t.Errorf("unready health = %d %s, want 503 without internals", r.status, r.body)
		}
	}
	if probes != 1 {
		t.Errorf("three health calls within %v probed the dependencies %d times, want 1", healthTTL, probes)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// passDue sets the clock to just after Reconcile is due for v: its expiry plus the grace.
func (a *app) passDue(v sessionView) {
	a.t.Helper()
	expires, err := time.Parse(time.RFC3339Nano, v.ExpiresAt)
	if err != nil {
		a.t.Fatalf("expiresAt %q: %v", v.ExpiresAt, err)
	}
	a.clock.Set(expires.Add(a.srv.opts.ExpiryGrace + time.Second))
}
