package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Face's SessionNotFound is recognised by its code under whatever status, so a Face session that
// is gone does not hold up a cancel or an expiry; a 404 without the code (a wrong endpoint, a
// proxy) is not taken for "gone", which would confirm a revocation or expire a session on a
// guess: it is an upstream error, and nothing is recorded.
func TestFaceSessionNotFoundIsTheCodeNotTheStatus(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string // error.code and x-ms-error-code; empty sends a bare status
		wantGone bool
	}{
		{"SessionNotFound under 404", http.StatusNotFound, "SessionNotFound", true},
		{"SessionNotFound under 400", http.StatusBadRequest, "SessionNotFound", true},
		{"SessionNotFound under 410", http.StatusGone, "SessionNotFound", true},
		{"a bare 404", http.StatusNotFound, "", false},
		{"a 404 with another code", http.StatusNotFound, "ResourceNotFound", false},
		// The app shaped the call (the stored id): a 400 is not the client's to fix.
		{"a 400 with another code", http.StatusBadRequest, "BadArgument", false},
	}
	for _, tt := range tests {
		for _, via := range []string{"CancelSession", "Reconcile"} {
			t.Run(tt.name+" via "+via, func(t *testing.T) {
				a := newApp(t, nil)
				v := a.start(`{"externalReference":"face-gone"}`)
				srv := a.withFaceAnswering(v.SessionID, tt.status, tt.code)
				before := a.rows()

				var status int
				if via == "CancelSession" {
					status = a.serveGone(t.Context(), srv.face, a.store, a.request("DELETE", "/api/sessions/"+v.SessionID, nil, nil)).Code
				} else {
					a.passDue(v)
					if _, err := srv.Reconcile(t.Context()); err != nil {
						t.Fatalf("Reconcile: %v", err)
					}
				}
				stored, err := a.store.GetSession(t.Context(), v.SessionID)
				if err != nil {
					t.Fatalf("GetSession: %v", err)
				}
				wantStatus := map[string]liveness.Status{"CancelSession": liveness.StatusCanceled, "Reconcile": liveness.StatusExpired}[via]
				switch {
				case tt.wantGone && (stored.Status != wantStatus || !stored.FaceDeleted):
					t.Errorf("stored session %s FaceDeleted %v (answer %d), want %s with the Face session counted as gone", stored.Status, stored.FaceDeleted, status, wantStatus)
				case !tt.wantGone && stored.Status != liveness.StatusCreated:
					t.Errorf("stored session %s (answer %d), want created: an unexplained 404 must not end it", stored.Status, status)
				case !tt.wantGone && via == "CancelSession" && status != http.StatusServiceUnavailable:
					t.Errorf("DELETE = %d, want 503", status)
				case !tt.wantGone && via == "CancelSession" && !mapsEqual(before, a.rows()):
					t.Errorf("the table changed although Face gave no answer about the session")
				}
			})
		}
	}
}

// withFaceAnswering returns a Server like a.srv whose Face client reaches the stand-in through a
// front that answers every request for session id with status (and code, when set).
func (a *app) withFaceAnswering(id string, status int, code string) *Server {
	a.t.Helper()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/"+id) {
			a.stub.ServeHTTP(w, r)
			return
		}
		if code == "" {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ms-error-code", code)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"The session ID is expired or does not exist."}}`))
	}))
	a.t.Cleanup(front.Close)
	client, err := face.NewClient(front.URL, nil, &face.ClientOptions{
		ClientOptions: azcore.ClientOptions{InsecureAllowCredentialWithHTTP: true},
		APIKey:        a.faceKey,
	})
	if err != nil {
		a.t.Fatalf("face.NewClient: %v", err)
	}
	opts := a.srv.opts
	return New(Deps{Face: client, QuickLinks: a.srv.quickLinks, Store: a.store, Events: a.srv.events}, a.srv.settings, &opts)
}
