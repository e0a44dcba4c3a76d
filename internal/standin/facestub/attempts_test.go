package facestub_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

func ptr[T any](v T) *T { return &v }

func TestAttemptsRiseAndSetStatus(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	steps := []struct {
		attempt    facestub.Attempt
		wantStatus string
		check      func(t *testing.T, a attempt)
	}{
		{attempt: facestub.Attempt{Status: "Running"}, wantStatus: "Running"},
		{attempt: facestub.Attempt{Status: "Failed"}, wantStatus: "Failed", check: func(t *testing.T, a attempt) {
			if a.Error == nil || a.Error.Code != "FaceWithMaskDetected" || a.Result != nil {
				t.Errorf("failed attempt = %+v, want error FaceWithMaskDetected and no result", a)
			}
		}},
		{attempt: facestub.Attempt{Status: "Failed", ErrorCode: "FaceNotFrontal", ErrorMessage: "Turn to the camera."}, wantStatus: "Failed",
			check: func(t *testing.T, a attempt) {
				if a.Error == nil || a.Error.Code != "FaceNotFrontal" || a.Error.Message != "Turn to the camera." {
					t.Errorf("failed attempt = %+v, want the given code and message", a.Error)
				}
			}},
		{attempt: facestub.Attempt{Decision: "spoofface"}, wantStatus: "Succeeded", check: decision("spoofface")},
		{attempt: facestub.Attempt{Decision: "uncertain"}, wantStatus: "Succeeded", check: decision("uncertain")},
		{attempt: facestub.Attempt{Status: "Succeeded", Decision: "realFace"}, wantStatus: "Succeeded", check: decision("realface")},
		{attempt: facestub.Attempt{}, wantStatus: "Succeeded", check: decision("realface")},
	}
	wantID := 0
	for i, st := range steps {
		if err := e.stub.AddAttempt(s.SessionID, st.attempt); err != nil {
			t.Fatalf("step %d: AddAttempt: %v", i, err)
		}
		if st.check != nil {
			wantID++
		}
		got, _ := e.getSession(t, livenessPath, s.SessionID)
		if got.Status != st.wantStatus {
			t.Errorf("step %d: session status = %q, want %q", i, got.Status, st.wantStatus)
		}
		if len(got.Results.Attempts) != wantID {
			t.Fatalf("step %d: %d attempts, want %d", i, len(got.Results.Attempts), wantID)
		}
		if wantID == 0 {
			continue
		}
		// The newest attempt is listed first; ids rise from 1 by one.
		for j, a := range got.Results.Attempts {
			if a.AttemptID != wantID-j {
				t.Errorf("step %d: attempts[%d].attemptId = %d, want %d", i, j, a.AttemptID, wantID-j)
			}
		}
		newest := got.Results.Attempts[0]
		if newest.AttemptStatus != st.wantStatus {
			t.Errorf("step %d: attemptStatus = %q, want %q", i, newest.AttemptStatus, st.wantStatus)
		}
		st.check(t, newest)
	}
}

func decision(want string) func(*testing.T, attempt) {
	return func(t *testing.T, a attempt) {
		t.Helper()
		if a.Result == nil || a.Error != nil {
			t.Fatalf("attempt = %+v, want a result and no error", a)
		}
		if a.Result.LivenessDecision != want {
			t.Errorf("livenessDecision = %q, want %q", a.Result.LivenessDecision, want)
		}
		if len(a.Result.Digest) != 64 {
			t.Errorf("digest = %q, want 64 hex characters", a.Result.Digest)
		}
		if a.Result.VerifyResult != nil {
			t.Errorf("verifyResult on a liveness session: %+v", a.Result.VerifyResult)
		}
	}
}

func TestVerifyAttempts(t *testing.T) {
	img := jpeg(3000)
	sum := sha256.Sum256(img)
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	tests := []struct {
		name          string
		fields        [][2]string
		attempt       facestub.Attempt
		wantIdentical bool
		wantConf      float64
		wantHash      string
	}{
		{name: "defaults match", attempt: facestub.Attempt{}, wantIdentical: true, wantConf: 0.9},
		{name: "not identical", attempt: facestub.Attempt{IsIdentical: ptr(false)}, wantIdentical: false, wantConf: 0.1},
		{name: "confidence below default threshold", attempt: facestub.Attempt{MatchConfidence: ptr(0.3)}, wantIdentical: false, wantConf: 0.3},
		{name: "confidence above session threshold", fields: [][2]string{{"verifyConfidenceThreshold", "0.2"}},
			attempt: facestub.Attempt{MatchConfidence: ptr(0.3)}, wantIdentical: true, wantConf: 0.3},
		{name: "both given", attempt: facestub.Attempt{IsIdentical: ptr(true), MatchConfidence: ptr(0.05)}, wantIdentical: true, wantConf: 0.05},
		{name: "image hash on request", fields: [][2]string{{"returnVerifyImageHash", "true"}}, attempt: facestub.Attempt{},
			wantIdentical: true, wantConf: 0.9, wantHash: hash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := verifyForm(img)
			f.fields = append(f.fields, tt.fields...)
			s := e.createVerify(t, f)
			if err := e.stub.AddAttempt(s.SessionID, tt.attempt); err != nil {
				t.Fatalf("AddAttempt: %v", err)
			}
			got, _ := e.getSession(t, verifyPath, s.SessionID)
			if len(got.Results.Attempts) != 1 || got.Results.Attempts[0].Result == nil {
				t.Fatalf("attempts = %+v, want one with a result", got.Results.Attempts)
			}
			res := got.Results.Attempts[0].Result
			if res.VerifyResult == nil {
				t.Fatal("verifyResult missing")
			}
			if res.VerifyResult.IsIdentical != tt.wantIdentical || res.VerifyResult.MatchConfidence != tt.wantConf {
				t.Errorf("verifyResult = %+v, want isIdentical %v, matchConfidence %v", *res.VerifyResult, tt.wantIdentical, tt.wantConf)
			}
			if res.VerifyImageHash != tt.wantHash {
				t.Errorf("verifyImageHash = %q, want %q", res.VerifyImageHash, tt.wantHash)
			}
		})
	}
}

func TestAddAttemptErrors(t *testing.T) {
	e := newEnv(t, nil)
	s := e.create(t, validCreate)
	tests := []struct {
		name    string
		id      string
		attempt facestub.Attempt
		want    error
	}{
		{name: "unknown session", id: "b12e033e-bda7-4b83-a211-e721c661f30e", want: facestub.ErrSessionNotFound},
		{name: "unknown status", id: s.SessionID, attempt: facestub.Attempt{Status: "Canceled"}, want: facestub.ErrInvalidAttempt},
		{name: "unknown decision", id: s.SessionID, attempt: facestub.Attempt{Decision: "live"}, want: facestub.ErrInvalidAttempt},
		{name: "confidence out of range", id: s.SessionID, attempt: facestub.Attempt{MatchConfidence: ptr(1.5)}, want: nil}, // liveness sessions ignore it
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := e.stub.AddAttempt(tt.id, tt.attempt); !errors.Is(err, tt.want) {
				t.Errorf("AddAttempt = %v, want %v", err, tt.want)
			}
		})
	}
	v := e.createVerify(t, verifyForm(jpeg(2048)))
	if err := e.stub.AddAttempt(v.SessionID, facestub.Attempt{MatchConfidence: ptr(1.5)}); !errors.Is(err, facestub.ErrInvalidAttempt) {
		t.Errorf("AddAttempt with matchConfidence 1.5 on a verify session = %v, want ErrInvalidAttempt", err)
	}
}

func TestAddAttemptOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	s := e.createVerify(t, verifyForm(jpeg(2048)))
	post := func(id, body string) response {
		return e.do(t, call{method: http.MethodPost, path: "/_stub/sessions/" + id + "/attempts", contentType: "application/json",
			body: []byte(body), header: http.Header{}})
	}

	r := post(s.SessionID, `{"status":"Succeeded","decision":"spoofface","isIdentical":false,"matchConfidence":0.2}`)
	var got struct{ AttemptID int }
	r.json(t, &got)
	if r.status != http.StatusOK || got.AttemptID != 1 {
		t.Fatalf("first attempt: %d %s, want 200 with attemptId 1", r.status, r.body)
	}
	r = post(s.SessionID, `{"status":"Failed","errorCode":"FaceWithMaskDetected","errorMessage":"Mask detected on face image."}`)
	r.json(t, &got)
	if got.AttemptID != 2 {
		t.Errorf("second attempt: attemptId %d, want 2", got.AttemptID)
	}
	sess, _ := e.getSession(t, verifyPath, s.SessionID)
	if sess.Status != "Failed" || len(sess.Results.Attempts) != 2 {
		t.Fatalf("session = %+v, want status Failed with 2 attempts", sess)
	}
	if res := sess.Results.Attempts[1].Result; res == nil || res.LivenessDecision != "spoofface" || res.VerifyResult == nil ||
		res.VerifyResult.IsIdentical || res.VerifyResult.MatchConfidence != 0.2 {
		t.Errorf("attempt 1 result = %+v, want spoofface, not identical, 0.2", res)
	}

	r = post(s.SessionID, `{"status":"Running"}`)
	if r.status != http.StatusOK {
		t.Errorf("running: status %d (%s), want 200", r.status, r.body)
	}
	if sess, _ := e.getSession(t, verifyPath, s.SessionID); sess.Status != "Running" || len(sess.Results.Attempts) != 2 {
		t.Errorf("after Running: status %q with %d attempts, want Running with 2", sess.Status, len(sess.Results.Attempts))
	}

	post("b12e033e-bda7-4b83-a211-e721c661f30e", `{}`).wantError(t, http.StatusNotFound, "SessionNotFound")
	post(s.SessionID, `{"decision":"sideways"}`).wantError(t, http.StatusBadRequest, "BadArgument")
	post(s.SessionID, `{"desicion":"realface"}`).wantError(t, http.StatusBadRequest, "InvalidRequestBody")
	post(s.SessionID, `{`).wantError(t, http.StatusBadRequest, "InvalidRequestBody")
}
