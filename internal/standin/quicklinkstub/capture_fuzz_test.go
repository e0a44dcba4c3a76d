package quicklinkstub

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// FuzzCaptureRequest sends any page query and any capture form to a fresh link: the answers are
// only the documented ones, a capture records at most one attempt, and a redirect goes only to
// the callbackUrl the page bound.
func FuzzCaptureRequest(f *testing.F) {
	f.Add("callbackUrl=http%3A%2F%2Fh%2Fcb%3Fexp%3D1%26sig%3Dx", "outcome=realface")
	f.Add("callbackUrl=javascript%3Aalert(1)", "outcome=error")
	f.Add("callbackUrl=http://h/&callbackUrl=http://g/", "outcome=abandon&outcome=realface")
	f.Add("", "outcome=%zz")
	f.Add("s=x&callbackUrl=https%3A%2F%2Fh%2F", "outcome=uncertain;x=1")
	face := facestub.New(nil)
	quick := New(face, nil)
	f.Fuzz(func(t *testing.T, query, form string) {
		rec := httptest.NewRecorder()
		create := httptest.NewRequest(http.MethodPost, "/face/v1.2/detectLiveness-sessions",
			strings.NewReader(`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`))
		create.Header.Set("Ocp-Apim-Subscription-Key", "k")
		create.Header.Set("Content-Type", "application/json")
		face.ServeHTTP(rec, create)
		var sess struct{ SessionID, AuthToken string }
		json.Unmarshal(rec.Body.Bytes(), &sess)
		req := httptest.NewRequest(http.MethodPost, "/api/quicklink", nil)
		req.Header.Set("Authorization", "Bearer "+sess.AuthToken)
		rec = httptest.NewRecorder()
		quick.ServeHTTP(rec, req)
		var link struct{ URL string }
		json.Unmarshal(rec.Body.Bytes(), &link)
		s := strings.TrimPrefix(link.URL, "/?s=")

		rec = httptest.NewRecorder()
		quick.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?s="+s, nil))
		page := httptest.NewRequest(http.MethodGet, "/", nil)
		page.URL.RawQuery = "s=" + s + "&" + query
		rec = httptest.NewRecorder()
		quick.ServeHTTP(rec, page)
		if c := rec.Code; c != http.StatusOK && c != http.StatusBadRequest && c != http.StatusGone {
			t.Fatalf("GET /?%s: %d", page.URL.RawQuery, c)
		}
		quick.mu.Lock()
		l := quick.links[s]
		quick.mu.Unlock()
		if l == nil {
			t.Fatalf("no link from session %+v (answer %q)", sess, link.URL)
		}
		bound := l.callbackURL
		if bound != "" && checkCallbackURL(bound) != nil {
			t.Fatalf("GET /?%s bound callbackUrl %q that the rule rejects", page.URL.RawQuery, bound)
		}

		capture := httptest.NewRequest(http.MethodPost, "/capture/"+s, strings.NewReader(form))
		capture.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec = httptest.NewRecorder()
		quick.ServeHTTP(rec, capture)
		switch c := rec.Code; c {
		case http.StatusSeeOther:
			if loc := rec.Header().Get("Location"); bound == "" || loc != bound {
				t.Fatalf("capture %q: Location %q, want the bound %q", form, loc, bound)
			}
		case http.StatusOK, http.StatusBadRequest:
		default:
			t.Fatalf("capture %q: %d", form, c)
		}
		rec = httptest.NewRecorder()
		req = httptest.NewRequest(http.MethodGet, "/face/v1.2/detectLiveness-sessions/"+sess.SessionID, nil)
		req.Header.Set("Ocp-Apim-Subscription-Key", "k")
		face.ServeHTTP(rec, req)
		if n := strings.Count(rec.Body.String(), `"attemptId"`); n > 1 {
			t.Fatalf("capture %q recorded %d attempts", form, n)
		}
	})
}
