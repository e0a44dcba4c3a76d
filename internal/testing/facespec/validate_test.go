package facespec

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

const (
	createPath       = BasePath + "/detectLiveness-sessions"
	createVerifyPath = BasePath + "/detectLivenessWithVerify-sessions"
	sessionPath      = createPath + "/" + sessionID
)

func TestValidateRequest(t *testing.T) {
	s := Load(t)
	key := http.Header{"Ocp-Apim-Subscription-Key": {"k"}}
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		header  http.Header
		wantErr string
	}{
		{name: "create minimal", method: "POST", path: createPath, body: `{"livenessOperationMode":"PassiveActive"}`},
		{name: "create unknown field ignored", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","userCorrelationId":"u"}`},
		{name: "create full", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","deviceCorrelationIdSetInClient":false,"enableSessionImage":true,"livenessModelVersion":"2024-11-15","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":86400}`},
		{name: "create missing mode", method: "POST", path: createPath, body: `{"deviceCorrelationId":"d"}`, wantErr: `"livenessOperationMode" is missing`},
		{name: "create mode not in enum", method: "POST", path: createPath, body: `{"livenessOperationMode":"Active"}`, wantErr: "allowed values"},
		{name: "create ttl wrong type", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","authTokenTimeToLiveInSeconds":"600"}`, wantErr: "must be an integer"},
		{name: "create ttl below minimum", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","authTokenTimeToLiveInSeconds":59}`, wantErr: "authTokenTimeToLiveInSeconds"},
		{name: "create ttl above maximum", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","authTokenTimeToLiveInSeconds":86401}`, wantErr: "authTokenTimeToLiveInSeconds"},
		{name: "create bool wrong type", method: "POST", path: createPath, body: `{"livenessOperationMode":"Passive","enableSessionImage":"yes"}`, wantErr: "enableSessionImage"},
		{name: "create no body", method: "POST", path: createPath, wantErr: "value is required but missing"},
		{name: "create not json", method: "POST", path: createPath, body: `{"livenessOperationMode":`, wantErr: "failed to decode request body"},
		{name: "get with bearer", method: "GET", path: sessionPath, header: http.Header{"Authorization": {"Bearer eyJ0"}}},
		{name: "get with lower-case bearer", method: "GET", path: sessionPath, header: http.Header{"Authorization": {"bearer eyJ0"}}},
		{name: "get with key", method: "GET", path: sessionPath, header: key},
		{name: "get without credentials", method: "GET", path: sessionPath, header: http.Header{}, wantErr: "security requirements failed"},
		{name: "get with empty bearer", method: "GET", path: sessionPath, header: http.Header{"Authorization": {"Bearer "}}, wantErr: "security requirements failed"},
		{name: "get with basic auth", method: "GET", path: sessionPath, header: http.Header{"Authorization": {"Basic dTpw"}}, wantErr: "security requirements failed"},
		{name: "delete", method: "DELETE", path: createVerifyPath + "/" + sessionID},
		{name: "session image", method: "GET", path: BasePath + "/sessionImages/abc"},
		{name: "method not declared", method: "PUT", path: sessionPath, wantErr: "no Face v1.2 operation"},
		{name: "unknown path", method: "GET", path: BasePath + "/detectLiveness/singleModal/sessions", wantErr: "no Face v1.2 operation"},
		{name: "other api version", method: "GET", path: "/face/v1.1/detectLiveness-sessions/" + sessionID, wantErr: "no Face v1.2 operation"},
		{name: "no version prefix", method: "GET", path: "/detectLiveness-sessions/" + sessionID, wantErr: "no Face v1.2 operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := ""
			if tt.body != "" || tt.method == "POST" {
				ct = "application/json"
			}
			r := newRequest(tt.method, tt.path, ct, []byte(tt.body), tt.header)
			wantErr(t, s.ValidateRequest(r, []byte(tt.body)), tt.wantErr)
		})
	}
}

func TestValidateRequestMultipart(t *testing.T) {
	s := Load(t)
	tests := []struct {
		name    string
		fields  map[string]string
		image   []byte
		wantErr string
	}{
		{name: "mode and image", fields: map[string]string{"livenessOperationMode": "Passive"}, image: jpeg(2048)},
		{name: "every part", image: jpeg(2048), fields: map[string]string{
			"livenessOperationMode": "PassiveActive", "deviceCorrelationIdSetInClient": "false", "enableSessionImage": "true",
			"livenessModelVersion": "2024-11-15", "returnVerifyImageHash": "true", "verifyConfidenceThreshold": "0.5",
			"deviceCorrelationId": "d", "authTokenTimeToLiveInSeconds": "60",
		}},
		{name: "missing mode", fields: map[string]string{"deviceCorrelationId": "d"}, image: jpeg(2048), wantErr: `"livenessOperationMode" is missing`},
		{name: "missing image", fields: map[string]string{"livenessOperationMode": "Passive"}, wantErr: `"verifyImage" is missing`},
		{name: "mode not in enum", fields: map[string]string{"livenessOperationMode": "passive"}, image: jpeg(2048), wantErr: "allowed values"},
		{name: "threshold above 1", fields: map[string]string{"livenessOperationMode": "Passive", "verifyConfidenceThreshold": "1.5"}, image: jpeg(2048), wantErr: "verifyConfidenceThreshold"},
		{name: "ttl not a number", fields: map[string]string{"livenessOperationMode": "Passive", "authTokenTimeToLiveInSeconds": "ten"}, image: jpeg(2048), wantErr: "authTokenTimeToLiveInSeconds"},
		{name: "boolean not a boolean", fields: map[string]string{"livenessOperationMode": "Passive", "enableSessionImage": "maybe"}, image: jpeg(2048), wantErr: "enableSessionImage"},
		{name: "part the spec does not declare", fields: map[string]string{"livenessOperationMode": "Passive", "Parameters": "{}"}, image: jpeg(2048), wantErr: "Parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, tt.fields, tt.image)
			r := newRequest(http.MethodPost, createVerifyPath, ct, body, nil)
			wantErr(t, s.ValidateRequest(r, body), tt.wantErr)
		})
	}
}

func TestValidateResponse(t *testing.T) {
	s := Load(t)
	const session = `{"sessionId":"` + sessionID + `","authToken":"eyJ","status":"NotStarted","modelVersion":"2024-11-15","results":{"attempts":[]}}`
	const verifySession = `{"sessionId":"` + sessionID + `","authToken":"eyJ","status":"Running","results":{"attempts":[],"verifyReferences":[]}}`
	const attempt = `{"sessionId":"s","authToken":"t","status":"Succeeded","results":{"attempts":[{"attemptId":1,"attemptStatus":"Succeeded",` +
		`"result":{"livenessDecision":"spoofface","targets":{"color":{"faceRectangle":{"top":1,"left":2,"width":3,"height":4}}},"digest":"D"}}]}}`
	const faceError = `{"error":{"code":"SessionNotFound","message":"Session does not exist."}}`
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		header  http.Header
		body    string
		wantErr string
	}{
		{name: "create", method: "POST", path: createPath, status: 200, header: jsonHeader(), body: session},
		{name: "get with attempt", method: "GET", path: sessionPath, status: 200, header: jsonHeader(), body: attempt},
		{name: "verify session", method: "GET", path: createVerifyPath + "/" + sessionID, status: 200, header: jsonHeader(), body: verifySession},
		{name: "delete", method: "DELETE", path: sessionPath, status: 204},
		{name: "error", method: "GET", path: sessionPath, status: 404, header: errorHeader("SessionNotFound"), body: faceError},
		{name: "throttled", method: "POST", path: createPath, status: 429, header: errorHeader("429"), body: `{"error":{"code":"429","message":"Rate limit is exceeded."}}`},
		{name: "missing required field", method: "POST", path: createPath, status: 200, header: jsonHeader(),
			body: strings.Replace(session, `"authToken":"eyJ",`, "", 1), wantErr: `"authToken" is missing`},
		{name: "wrong type", method: "GET", path: sessionPath, status: 200, header: jsonHeader(),
			body: strings.Replace(attempt, `"attemptId":1`, `"attemptId":"1"`, 1), wantErr: "attemptId"},
		{name: "status not in enum", method: "GET", path: sessionPath, status: 200, header: jsonHeader(),
			body: strings.Replace(session, "NotStarted", "Done", 1), wantErr: "allowed values"},
		{name: "decision not in enum", method: "GET", path: sessionPath, status: 200, header: jsonHeader(),
			body: strings.Replace(attempt, "spoofface", "spoof", 1), wantErr: "livenessDecision"},
		{name: "verify session without verifyReferences", method: "GET", path: createVerifyPath + "/" + sessionID, status: 200, header: jsonHeader(),
			body: session, wantErr: `"verifyReferences" is missing`},
		{name: "delete answering 200", method: "DELETE", path: sessionPath, status: 200, wantErr: "status 200 is not declared"},
		{name: "create answering 201", method: "POST", path: createPath, status: 201, header: jsonHeader(), body: session, wantErr: "status 201 is not declared"},
		{name: "error without message", method: "GET", path: sessionPath, status: 404, header: errorHeader("SessionNotFound"),
			body: `{"error":{"code":"SessionNotFound"}}`, wantErr: `"message" is missing`},
		{name: "error in another shape", method: "GET", path: sessionPath, status: 400, header: jsonHeader(),
			body: `{"code":"BadArgument","message":"m"}`, wantErr: `"error" is missing`},
		{name: "no content type", method: "GET", path: sessionPath, status: 200, body: session, wantErr: "Content-Type"},
		{name: "not json", method: "GET", path: sessionPath, status: 200, header: jsonHeader(), body: "<html>", wantErr: "failed to decode response body"},
		{name: "unknown operation", method: "GET", path: BasePath + "/nope", status: 200, header: jsonHeader(), body: "{}", wantErr: "no Face v1.2 operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(tt.method, tt.path, "", nil, nil)
			wantErr(t, s.ValidateResponse(r, nil, tt.status, tt.header, []byte(tt.body)), tt.wantErr)
		})
	}
}

// Validation errors name the failing field, never its value: values include session auth tokens.
func TestValidationErrorsOmitValues(t *testing.T) {
	s := Load(t)
	const token = "eyJsecret-token-value"
	body := `{"sessionId":"s","authToken":"` + token + `","results":{"attempts":[]}}` // status missing: the error is about the whole object
	err := s.ValidateResponse(newRequest("GET", sessionPath, "", nil, nil), nil, 200, jsonHeader(), []byte(body))
	if err == nil {
		t.Fatal("got no error for a session without status, want one")
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains the auth token", err)
	}
}

func TestValidateConcurrently(t *testing.T) {
	s := Load(t)
	body := []byte(`{"livenessOperationMode":"Passive"}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				r := newRequest(http.MethodPost, createPath, "application/json", body, nil)
				if err := s.ValidateRequest(r, body); err != nil {
					t.Errorf("concurrent validation: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// Load hands out one converted document per file.
func TestLoadOnce(t *testing.T) {
	if a, b := Load(t), Load(t); a != b {
		t.Error("Load returned two different specs for the same file")
	}
}

func TestLoadSkipsWhenAbsent(t *testing.T) {
	t.Setenv(EnvSpecPath, t.TempDir()+"/missing.json")
	if got := SpecPath(); !strings.HasSuffix(got, "missing.json") {
		t.Fatalf("SpecPath() = %q, want the %s value", got, EnvSpecPath)
	}
	var skipped bool
	done := make(chan struct{})
	// Skip ends the goroutine it is called from, so run Load where that cannot end this test.
	go func() {
		defer close(done)
		spy := &spyTB{TB: t}
		defer func() { skipped = spy.skipped }()
		Load(spy)
	}()
	<-done
	if !skipped {
		t.Error("Load did not skip for an absent spec file")
	}
}

func TestLoadFailsOnBadFile(t *testing.T) {
	path := t.TempDir() + "/bad.json"
	if err := writeFile(path, "{not json"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvSpecPath, path)
	spy := &spyTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); Load(spy) }()
	<-done
	if !spy.fatal {
		t.Error("Load did not fail the test for an unparsable spec file")
	}
	if spy.skipped {
		t.Error("Load skipped for an unparsable spec file, want a failure")
	}
}

func TestSpecPathDefault(t *testing.T) {
	t.Setenv(EnvSpecPath, "")
	got := SpecPath()
	if !strings.HasSuffix(got, "/shared/specs/face-v1.2.openapi.json") || strings.Contains(got, "/internal/") {
		t.Errorf("SpecPath() = %q, want <repo root>/../shared/specs/face-v1.2.openapi.json", got)
	}
}
