package face

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLatestAttempt(t *testing.T) {
	tests := []struct {
		name   string
		ids    []int
		wantID int // 0: nil
	}{
		{"none", nil, 0},
		{"one", []int{1}, 1},
		{"newest first, as in the examples", []int{3, 2, 1}, 3},
		{"oldest first", []int{1, 2, 3}, 3},
		{"shuffled", []int{2, 4, 1, 3}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{}
			for _, id := range tt.ids {
				s.Attempts = append(s.Attempts, Attempt{ID: id})
			}
			got := s.LatestAttempt()
			switch {
			case tt.wantID == 0 && got != nil:
				t.Errorf("LatestAttempt = attempt %d, want nil", got.ID)
			case tt.wantID != 0 && (got == nil || got.ID != tt.wantID):
				t.Errorf("LatestAttempt = %v, want attempt %d", got, tt.wantID)
			}
		})
	}
}

func TestFinished(t *testing.T) {
	tests := []struct {
		status string
		want   bool
	}{
		{"NotStarted", false}, {"Running", false}, {"running", false}, {"", false}, {"Succeededish", false},
		{"Succeeded", true}, {"succeeded", true}, {"FAILED", true}, {"Failed", true}, {"canceled", true}, {"Canceled", true},
	}
	for _, tt := range tests {
		if got := (&Session{Status: tt.status}).Finished(); got != tt.want {
			t.Errorf("Finished() with status %q = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestDecodeNormalizesEnums(t *testing.T) {
	body := `{"sessionId":"s","authToken":"t","status":"succeeded","results":{"attempts":[
		{"attemptId":1,"attemptStatus":"FAILED","error":{"code":"FaceWithMaskDetected","message":"Mask detected on face image."}},
		{"attemptId":2,"attemptStatus":"succeeded","result":{"livenessDecision":"realFace","digest":"D","verifyResult":{"matchConfidence":0.9,"isIdentical":true}}},
		{"attemptId":3,"attemptStatus":"Paused","result":{"livenessDecision":"maybe","digest":"E"}}]}}`
	s, err := decodeSession([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != "Succeeded" {
		t.Errorf("Status = %q, want Succeeded", s.Status)
	}
	want := []struct{ status, decision string }{{"Failed", ""}, {"Succeeded", "realface"}, {"Paused", "maybe"}}
	for i, w := range want {
		a := s.Attempts[i]
		if a.Status != w.status {
			t.Errorf("attempt %d status = %q, want %q", a.ID, a.Status, w.status)
		}
		if a.Result != nil && a.Result.Decision != w.decision {
			t.Errorf("attempt %d decision = %q, want %q", a.ID, a.Result.Decision, w.decision)
		}
	}
	if e := s.Attempts[0].Error; e == nil || e.Code != "FaceWithMaskDetected" {
		t.Errorf("attempt 1 error = %+v, want FaceWithMaskDetected", e)
	}
	if v := s.Attempts[1].Result.Verify; v == nil || !v.IsIdentical || v.MatchConfidence != 0.9 {
		t.Errorf("attempt 2 verify = %+v, want identical at 0.9", v)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ``},
		{"not json", `<html>` + testAuthToken},
		{"truncated", `{"sessionId":"s","authToken":"` + testAuthToken},
		{"no session id", `{"authToken":"` + testAuthToken + `","status":"Running"}`},
		{"wrong type", `{"sessionId":"s","authToken":"` + testAuthToken + `","results":{"attempts":[{"attemptId":"` + testAuthToken + `"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSession([]byte(tt.body))
			if err == nil {
				t.Fatal("decodeSession succeeded, want an error")
			}
			if strings.Contains(err.Error(), testAuthToken) {
				t.Errorf("error quotes the auth token: %v", err)
			}
		})
	}
}

func TestSessionOutputHidesToken(t *testing.T) {
	s := &Session{ID: testSessionID, AuthToken: testAuthToken, Status: "Running", Attempts: []Attempt{{ID: 1}}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("session", "session", s)
	outputs := map[string]string{"slog": buf.String(), "%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%s": fmt.Sprint(s)}
	for name, out := range outputs {
		if strings.Contains(out, testAuthToken) {
			t.Errorf("%s output contains the auth token: %s", name, out)
		}
		if !strings.Contains(out, testSessionID) {
			t.Errorf("%s output lacks the session id: %s", name, out)
		}
	}
}

// TestOfficialExamples decodes the response bodies of Microsoft's v1.2 examples.
func TestOfficialExamples(t *testing.T) {
	dir := filepath.Join(specsDir(t), "face-examples-v1.2")
	tests := []struct {
		file         string
		wantAttempts int
		wantLatest   Attempt // ID 0: no attempts
		wantVerify   *VerifyResult
	}{
		{"LivenessSessionOperations_CreateLivenessSession.json", 0, Attempt{}, nil},
		{"LivenessSessionOperations_CreateLivenessWithVerifySession.json", 0, Attempt{}, nil},
		{"LivenessSessionOperations_GetLivenessSessionResult.json", 2,
			Attempt{ID: 2, Status: "Succeeded", Result: &Result{Decision: "realface"}}, nil},
		{"LivenessSessionOperations_GetLivenessWithVerifySessionResult.json", 2,
			Attempt{ID: 2, Status: "Succeeded", Result: &Result{Decision: "realface"}},
			&VerifyResult{MatchConfidence: 0.08871888, IsIdentical: false}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatalf("example missing: %v", err)
			}
			var ex struct {
				Responses map[string]struct{ Body json.RawMessage }
			}
			if err := json.Unmarshal(raw, &ex); err != nil {
				t.Fatal(err)
			}
			s, err := decodeSession(ex.Responses["200"].Body)
			if err != nil {
				t.Fatalf("decodeSession: %v", err)
			}
			if s.ID != "b12e033e-bda7-4b83-a211-e721c661f30e" || s.AuthToken == "" || s.Status != "NotStarted" || s.ModelVersion != "2024-11-15" {
				t.Errorf("session = %v (token set: %v)", s, s.AuthToken != "")
			}
			if len(s.Attempts) != tt.wantAttempts {
				t.Fatalf("attempts = %d, want %d", len(s.Attempts), tt.wantAttempts)
			}
			latest := s.LatestAttempt()
			if tt.wantLatest.ID == 0 {
				if latest != nil {
					t.Errorf("LatestAttempt = %d, want nil", latest.ID)
				}
				return
			}
			if latest.ID != tt.wantLatest.ID || latest.Status != tt.wantLatest.Status || latest.Result == nil ||
				latest.Result.Decision != tt.wantLatest.Result.Decision {
				t.Errorf("latest attempt = %+v, want %+v", latest, tt.wantLatest)
			}
			if latest.Result.Digest == "" || latest.Result.SessionImageID == "" {
				t.Errorf("latest result lost digest or sessionImageId: %+v", latest.Result)
			}
			if (tt.wantVerify == nil) != (latest.Result.Verify == nil) ||
				(tt.wantVerify != nil && *tt.wantVerify != *latest.Result.Verify) {
				t.Errorf("verify = %+v, want %+v", latest.Result.Verify, tt.wantVerify)
			}
			first := s.Attempts[1]
			if first.Status != "Failed" || first.Error == nil || first.Error.Code != "FaceWithMaskDetected" {
				t.Errorf("attempt 1 = %+v, want Failed with FaceWithMaskDetected", first)
			}
		})
	}
}

func FuzzDecodeSession(f *testing.F) {
	f.Add([]byte(sessionJSON))
	f.Add([]byte(`{"sessionId":"s","status":"failed","results":{"attempts":[{"attemptId":2},{"attemptId":-1,"result":{"livenessDecision":"SPOOFFACE"}}]}}`))
	f.Add([]byte(`{"sessionId":"s","results":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeSession(body)
		if err != nil {
			return
		}
		if s.ID == "" {
			t.Fatal("decoded a session without an id")
		}
		latest := s.LatestAttempt()
		if (latest == nil) != (len(s.Attempts) == 0) {
			t.Fatalf("LatestAttempt = %v with %d attempts", latest, len(s.Attempts))
		}
		for _, a := range s.Attempts {
			if a.ID > latest.ID {
				t.Fatalf("attempt %d is later than LatestAttempt %d", a.ID, latest.ID)
			}
		}
		if s.Finished() != (s.Status == "Succeeded" || s.Status == "Failed" || s.Status == "Canceled") {
			t.Fatalf("status %q not normalized consistently with Finished", s.Status)
		}
	})
}
