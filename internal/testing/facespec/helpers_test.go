package facespec

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sessionID = "b12e033e-bda7-4b83-a211-e721c661f30e"

// newRequest builds a server-side request to the Face API, authenticated with a key unless header says
// otherwise.
func newRequest(method, path, contentType string, body []byte, header http.Header) *http.Request {
	r := httptest.NewRequest(method, "http://127.0.0.1:7000"+path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if header == nil {
		header = http.Header{"Ocp-Apim-Subscription-Key": {"test-key"}}
	}
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

// multipartBody renders fields and, unless image is nil, a verifyImage file part.
func multipartBody(t *testing.T, fields map[string]string, image []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatalf("write field %s: %v", k, err)
		}
	}
	if image != nil {
		fw, err := mw.CreateFormFile("verifyImage", "face.jpg")
		if err != nil {
			t.Fatalf("create file part: %v", err)
		}
		fw.Write(image)
	}
	if err := mw.Close(); err != nil {
		t.Fatalf("close multipart: %v", err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// jpeg returns n bytes that start like a JPEG file.
func jpeg(n int) []byte {
	return append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0}, n-4)...)
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json; charset=utf-8"}}
}

func errorHeader(code string) http.Header {
	h := jsonHeader()
	h.Set("x-ms-error-code", code)
	return h
}

// wantErr fails t unless err matches want: want "" means no error, otherwise err must contain want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("got error %v, want none", err)
	case want != "" && err == nil:
		t.Errorf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("got error %v, want one containing %q", err, want)
	}
}
