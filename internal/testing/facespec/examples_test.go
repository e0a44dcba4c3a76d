package facespec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// example is one x-ms-examples file of the Azure REST API specs.
type example struct {
	OperationID string                     `json:"operationId"`
	Parameters  map[string]json.RawMessage `json:"parameters"`
	Responses   map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func readExample(t *testing.T, name string) example {
	t.Helper()
	dir := filepath.Join(filepath.Dir(SpecPath()), "face-examples-v1.2")
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Face examples not found in %s", dir)
	}
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	var ex example
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatalf("parse example %s: %v", name, err)
	}
	return ex
}

// operation finds the method and path template the spec declares for an operationId.
func (s *Spec) operation(t *testing.T, id string) (method, path string) {
	t.Helper()
	for p, item := range s.doc.Paths.Map() {
		for m, op := range item.Operations() {
			if op.OperationID == id {
				return m, p
			}
		}
	}
	t.Fatalf("operation %s is not in the spec", id)
	return "", ""
}

// request renders the example's parameters as the HTTP request a client would send.
func (ex example) request(t *testing.T, s *Spec) *http.Request {
	t.Helper()
	method, path := s.operation(t, ex.OperationID)
	for name, raw := range ex.Parameters {
		var v string
		if json.Unmarshal(raw, &v) == nil {
			path = strings.ReplaceAll(path, "{"+name+"}", v)
		}
	}
	body, ct := []byte(ex.Parameters["body"]), ""
	if len(body) > 0 {
		ct = "application/json"
	}
	return newRequest(method, BasePath+path, ct, body, nil)
}

func TestExampleRequests(t *testing.T) {
	s := Load(t)
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: "LivenessSessionOperations_CreateLivenessSession.json"},
		{file: "LivenessSessionOperations_GetLivenessSessionResult.json"},
		{file: "LivenessSessionOperations_DeleteLivenessSession.json"},
		{file: "LivenessSessionOperations_GetLivenessWithVerifySessionResult.json"},
		{file: "LivenessSessionOperations_DeleteLivenessWithVerifySession.json"},
		{file: "LivenessSessionOperations_GetSessionImage.json"},
		// Known defect: the example sends JSON, the operation consumes multipart/form-data.
		{file: "LivenessSessionOperations_CreateLivenessWithVerifySession.json", wantErr: "application/json"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			ex := readExample(t, tt.file)
			r := ex.request(t, s)
			body := []byte(ex.Parameters["body"])
			wantErr(t, s.ValidateRequest(r, body), tt.wantErr)
		})
	}
}

// The create-with-verify example's parameters, sent the way the operation declares (multipart, with the
// required verifyImage file part), are valid.
func TestExampleCreateWithVerifyAsMultipart(t *testing.T) {
	s := Load(t)
	ex := readExample(t, "LivenessSessionOperations_CreateLivenessWithVerifySession.json")
	var params map[string]any
	if err := json.Unmarshal(ex.Parameters["body"], &params); err != nil {
		t.Fatalf("parse example body: %v", err)
	}
	fields := map[string]string{}
	for k, v := range params {
		b, _ := json.Marshal(v)
		fields[k] = strings.Trim(string(b), `"`)
	}
	ct, body := multipartBody(t, fields, jpeg(2048))
	r := newRequest(http.MethodPost, BasePath+"/detectLivenessWithVerify-sessions", ct, body, nil)
	wantErr(t, s.ValidateRequest(r, body), "")
}

func TestExampleResponses(t *testing.T) {
	s := Load(t)
	tests := []struct {
		file string
		// wantErr is the known defect of the example, "" when it has none.
		wantErr string
		// repair fixes that defect, after which the example must validate.
		repair func(status int, body []byte) (int, []byte)
	}{
		{file: "LivenessSessionOperations_CreateLivenessSession.json"},
		{file: "LivenessSessionOperations_CreateLivenessWithVerifySession.json"},
		{file: "LivenessSessionOperations_DeleteLivenessWithVerifySession.json"},
		{
			file:    "LivenessSessionOperations_DeleteLivenessSession.json",
			wantErr: "status 200 is not declared",
			repair:  func(int, []byte) (int, []byte) { return http.StatusNoContent, nil },
		},
		{
			file:    "LivenessSessionOperations_GetLivenessSessionResult.json",
			wantErr: "livenessDecision",
			repair:  replaceIn(`"realFace"`, `"realface"`),
		},
		{
			file:    "LivenessSessionOperations_GetLivenessWithVerifySessionResult.json",
			wantErr: "referenceType",
			repair:  replaceIn(`"referenceType": "image"`, `"referenceType": "Color"`),
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			ex := readExample(t, tt.file)
			if len(ex.Responses) != 1 {
				t.Fatalf("example has %d responses, want 1", len(ex.Responses))
			}
			for code, resp := range ex.Responses {
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Fatalf("example status %q: %v", code, err)
				}
				r := ex.request(t, s)
				body, header := []byte(resp.Body), jsonHeader()
				if len(body) == 0 {
					header = http.Header{}
				}
				wantErr(t, s.ValidateResponse(r, nil, status, header, body), tt.wantErr)
				if tt.repair != nil {
					status, body = tt.repair(status, body)
					if err := s.ValidateResponse(r, nil, status, header, body); err != nil {
						t.Errorf("repaired example: got error %v, want none", err)
					}
				}
			}
		})
	}
}

func TestExampleSessionImage(t *testing.T) {
	s := Load(t)
	ex := readExample(t, "LivenessSessionOperations_GetSessionImage.json")
	r := ex.request(t, s)
	var body string
	if err := json.Unmarshal(ex.Responses["200"].Body, &body); err != nil {
		t.Fatalf("example image body: %v", err)
	}
	header := http.Header{"Content-Type": {"application/octet-stream"}}
	wantErr(t, s.ValidateResponse(r, nil, http.StatusOK, header, []byte(body)), "")
	wantErr(t, s.ValidateResponse(r, nil, http.StatusOK, http.Header{"Content-Type": {"image/jpeg"}}, []byte(body)), "image/jpeg")
}

func replaceIn(old, new string) func(int, []byte) (int, []byte) {
	return func(status int, body []byte) (int, []byte) {
		if !bytes.Contains(body, []byte(old)) {
			panic("example no longer contains " + old)
		}
		return status, bytes.ReplaceAll(body, []byte(old), []byte(new))
	}
}
