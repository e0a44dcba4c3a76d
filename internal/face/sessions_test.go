package face

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

func TestOperationsPathsAndMethods(t *testing.T) {
	createReq := func(k Kind) CreateRequest {
		r := CreateRequest{Mode: "PassiveActive", DeviceCorrelationID: "device-1"}
		if k == KindLivenessWithVerify {
			r.VerifyImage = jpeg
		}
		return r
	}
	tests := []struct {
		name   string
		kind   Kind
		call   func(*Client, Kind) error
		answer answer
		method string
		path   string
	}{
		{"create liveness", KindLiveness, func(c *Client, k Kind) error { _, err := c.Create(context.Background(), k, createReq(k)); return err },
			ok(sessionJSON), http.MethodPost, "/face/v1.2/detectLiveness-sessions"},
		{"create verify", KindLivenessWithVerify, func(c *Client, k Kind) error { _, err := c.Create(context.Background(), k, createReq(k)); return err },
			ok(sessionJSON), http.MethodPost, "/face/v1.2/detectLivenessWithVerify-sessions"},
		{"get liveness", KindLiveness, func(c *Client, k Kind) error { _, err := c.Get(context.Background(), k, testSessionID); return err },
			ok(sessionJSON), http.MethodGet, "/face/v1.2/detectLiveness-sessions/" + testSessionID},
		{"get verify", KindLivenessWithVerify, func(c *Client, k Kind) error { _, err := c.Get(context.Background(), k, testSessionID); return err },
			ok(sessionJSON), http.MethodGet, "/face/v1.2/detectLivenessWithVerify-sessions/" + testSessionID},
		{"delete liveness", KindLiveness, func(c *Client, k Kind) error { return c.Delete(context.Background(), k, testSessionID) },
			answer{status: http.StatusNoContent}, http.MethodDelete, "/face/v1.2/detectLiveness-sessions/" + testSessionID},
		{"delete verify", KindLivenessWithVerify, func(c *Client, k Kind) error { return c.Delete(context.Background(), k, testSessionID) },
			answer{status: http.StatusNoContent}, http.MethodDelete, "/face/v1.2/detectLivenessWithVerify-sessions/" + testSessionID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(tt.answer)
			srv := httptest.NewServer(rec)
			defer srv.Close()
			// The trailing slash must not double up in the path.
			c := keyClient(t, srv.URL+"/", nil, nil)

			if err := tt.call(c, tt.kind); err != nil {
				t.Fatalf("call failed: %v", err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			if reqs[0].Method != tt.method || reqs[0].Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", reqs[0].Method, reqs[0].Path, tt.method, tt.path)
			}
		})
	}
}

func TestCreateLivenessSendsSpecJSON(t *testing.T) {
	tests := []struct {
		name string
		req  CreateRequest
		want map[string]any
	}{
		{"all fields", CreateRequest{Mode: "PassiveActive", DeviceCorrelationID: "dev-1", AuthTokenTTLSeconds: 120, EnableSessionImage: true},
			map[string]any{"livenessOperationMode": "PassiveActive", "deviceCorrelationId": "dev-1", "authTokenTimeToLiveInSeconds": 120.0, "enableSessionImage": true}},
		{"zero values left to the service", CreateRequest{Mode: "Passive"},
			map[string]any{"livenessOperationMode": "Passive", "enableSessionImage": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(ok(sessionJSON))
			srv := httptest.NewServer(rec)
			defer srv.Close()
			c := keyClient(t, srv.URL, nil, nil)

			s, err := c.Create(context.Background(), KindLiveness, tt.req)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if s.ID != testSessionID || s.AuthToken != testAuthToken || s.Status != "NotStarted" {
				t.Errorf("session = %v (token %q), want id %s, status NotStarted and the token", s, s.AuthToken, testSessionID)
			}
			r := rec.requests()[0]
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("body = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreateVerifySendsMultipart(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 40)...)
	tests := []struct {
		name      string
		req       CreateRequest
		wantText  map[string]string
		wantImgCT string
	}{
		{"jpeg, all fields", CreateRequest{Mode: "Passive", DeviceCorrelationID: "dev-2", AuthTokenTTLSeconds: 300, EnableSessionImage: true, VerifyImage: jpeg},
			map[string]string{"livenessOperationMode": "Passive", "deviceCorrelationId": "dev-2", "authTokenTimeToLiveInSeconds": "300", "enableSessionImage": "true"},
			"image/jpeg"},
		{"png, defaults", CreateRequest{Mode: "PassiveActive", VerifyImage: png},
			map[string]string{"livenessOperationMode": "PassiveActive", "enableSessionImage": "false"},
			"image/png"},
		{"unknown bytes", CreateRequest{Mode: "Passive", VerifyImage: []byte("not an image at all")},
			map[string]string{"livenessOperationMode": "Passive", "enableSessionImage": "false"},
			"application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(ok(sessionJSON))
			srv := httptest.NewServer(rec)
			defer srv.Close()
			c := keyClient(t, srv.URL, nil, nil)

			if _, err := c.Create(context.Background(), KindLivenessWithVerify, tt.req); err != nil {
				t.Fatalf("Create: %v", err)
			}
			r := rec.requests()[0]
			text, file := parseForm(t, r)
			if !maps.Equal(text, tt.wantText) {
				t.Errorf("text parts = %v, want %v", text, tt.wantText)
			}
			if file == nil {
				t.Fatal("no verifyImage file part")
			}
			if file.filename != "verify-image" {
				t.Errorf("verifyImage filename = %q, want verify-image", file.filename)
			}
			if file.contentType != tt.wantImgCT {
				t.Errorf("verifyImage Content-Type = %q, want %q", file.contentType, tt.wantImgCT)
			}
			if !bytes.Equal(file.data, tt.req.VerifyImage) {
				t.Errorf("verifyImage bytes differ from the image sent")
			}
		})
	}
}

type filePart struct {
	filename, contentType string
	data                  []byte
}

// parseForm reads a multipart body the way a server would, failing on any part it does not expect.
func parseForm(t *testing.T, r seen) (text map[string]string, file *filePart) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("Content-Type = %q, want multipart/form-data", r.Header.Get("Content-Type"))
	}
	text = map[string]string{}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return text, file
		}
		if err != nil {
			t.Fatalf("reading multipart body: %v", err)
		}
		data, _ := io.ReadAll(p)
		switch {
		case p.FormName() == "verifyImage":
			file = &filePart{p.FileName(), p.Header.Get("Content-Type"), data}
		case p.FileName() != "":
			t.Errorf("unexpected file part %q", p.FormName())
		default:
			text[p.FormName()] = string(data)
		}
	}
}

// TestCreateSendsOnlySpecFields holds the client to the Swagger file: every JSON field and form part
// it sends must be a parameter of the operation.
func TestCreateSendsOnlySpecFields(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(specsDir(t), "face-v1.2.openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
		}
		Definitions map[string]struct{ Properties map[string]any }
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("parsing the spec: %v", err)
	}
	jsonFields := slices.Collect(maps.Keys(spec.Definitions["CreateLivenessSessionContent"].Properties))
	var formFields []string
	for _, p := range spec.Paths["/detectLivenessWithVerify-sessions"]["post"].Parameters {
		if p.In == "formData" {
			formFields = append(formFields, p.Name)
		}
	}
	if len(jsonFields) == 0 || len(formFields) == 0 {
		t.Fatal("the spec has no create parameters: wrong file?")
	}

	rec := newRecorder(ok(sessionJSON))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := keyClient(t, srv.URL, nil, nil)
	full := CreateRequest{Mode: "Passive", DeviceCorrelationID: "d", AuthTokenTTLSeconds: 60, EnableSessionImage: true}
	if _, err := c.Create(context.Background(), KindLiveness, full); err != nil {
		t.Fatal(err)
	}
	full.VerifyImage = jpeg
	if _, err := c.Create(context.Background(), KindLivenessWithVerify, full); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()

	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	for k := range body {
		if !slices.Contains(jsonFields, k) {
			t.Errorf("JSON create sends %q, which CreateLivenessSessionContent lacks", k)
		}
	}
	text, file := parseForm(t, reqs[1])
	if file == nil {
		t.Fatal("verify create sent no verifyImage")
	}
	for k := range text {
		if !slices.Contains(formFields, k) {
			t.Errorf("multipart create sends %q, which the operation lacks", k)
		}
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		req  CreateRequest
	}{
		{"unknown kind", Kind("selfie"), CreateRequest{Mode: "Passive"}},
		{"no mode", KindLiveness, CreateRequest{}},
		{"negative ttl", KindLiveness, CreateRequest{Mode: "Passive", AuthTokenTTLSeconds: -1}},
		{"verify without image", KindLivenessWithVerify, CreateRequest{Mode: "Passive"}},
		{"liveness with image", KindLiveness, CreateRequest{Mode: "Passive", VerifyImage: jpeg}},
		{"liveness with empty image", KindLiveness, CreateRequest{Mode: "Passive", VerifyImage: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(ok(sessionJSON))
			srv := httptest.NewServer(rec)
			defer srv.Close()
			c := keyClient(t, srv.URL, nil, nil)

			_, err := c.Create(context.Background(), tt.kind, tt.req)
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Errorf("error = %v, want one wrapping liveness.ErrInvalidRequest", err)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("server got %d requests for bad input, want 0", n)
			}
		})
	}
}

func TestSessionIDIsChecked(t *testing.T) {
	rec := newRecorder(ok(sessionJSON))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := keyClient(t, srv.URL, nil, nil)

	for _, id := range []string{"", "..", "../../settings", testSessionID + "/x"} {
		if _, err := c.Get(context.Background(), KindLiveness, id); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidRequest", id, err)
		}
		if err := c.Delete(context.Background(), KindLiveness, id); !errors.Is(err, liveness.ErrInvalidRequest) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidRequest", id, err)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server got %d requests for bad ids, want 0", n)
	}
}

func TestDeleteAccepts200And204(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusNoContent} {
		srv := httptest.NewServer(newRecorder(answer{status: status}))
		c := keyClient(t, srv.URL, nil, nil)
		if err := c.Delete(context.Background(), KindLivenessWithVerify, testSessionID); err != nil {
			t.Errorf("Delete answered %d: %v", status, err)
		}
		srv.Close()
	}
}
