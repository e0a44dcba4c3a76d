package facestub

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// createCodes are the error codes a create may answer with.
var createCodes = map[string]bool{
	"InvalidRequestBody": true, "InvalidLivenessOperationMode": true, "InvalidTokenLifetime": true,
	"InvalidDeviceCorrelationId": true, "InvalidImage": true, "InvalidImageSize": true, "BadArgument": true,
}

// checkParsed holds for every outcome of a create parser: a 400 with a known code, or parameters that
// satisfy every documented rule.
func checkParsed(t *testing.T, p createParams, ferr *faceError) {
	t.Helper()
	if ferr != nil {
		if ferr.status != http.StatusBadRequest || !createCodes[ferr.code] {
			t.Fatalf("error %d %s, want 400 with a create error code", ferr.status, ferr.code)
		}
		return
	}
	if p.mode != modePassive && p.mode != modePassiveActive {
		t.Fatalf("accepted mode %q", p.mode)
	}
	if p.ttlSeconds < minTTLSeconds || p.ttlSeconds > maxTTLSeconds {
		t.Fatalf("accepted TTL %d", p.ttlSeconds)
	}
	if p.hasThreshold && (p.threshold < 0 || p.threshold > 1) {
		t.Fatalf("accepted threshold %v", p.threshold)
	}
}

func FuzzParseCreateJSON(f *testing.F) {
	for _, seed := range []string{
		`{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`,
		`{"livenessOperationMode":"PassiveActive","deviceCorrelationIdSetInClient":true,"authTokenTimeToLiveInSeconds":86400}`,
		`{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":1e400}`,
		`{"livenessOperationMode":"Passive","deviceCorrelationId":null,"enableSessionImage":true,"x":[1,{}]}`,
		`null`, `[]`, `{}{}`, `"Passive"`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		p, ferr := parseCreateJSON("application/json", strings.NewReader(body))
		checkParsed(t, p, ferr)
		if ferr == nil && !strings.Contains(body, p.mode) {
			t.Fatalf("mode %q accepted from a body that does not hold it", p.mode)
		}
	})
}

func FuzzParseCreateMultipart(f *testing.F) {
	form := func(fields [][2]string, image []byte) []byte {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.SetBoundary("BOUNDARY")
		for _, kv := range fields {
			mw.WriteField(kv[0], kv[1])
		}
		if image != nil {
			w, _ := mw.CreateFormFile("verifyImage", "f.jpg")
			w.Write(image)
		}
		mw.Close()
		return buf.Bytes()
	}
	jpeg := append([]byte{0xFF, 0xD8, 0xFF}, make([]byte, 1100)...)
	f.Add(form([][2]string{{"livenessOperationMode", "Passive"}, {"deviceCorrelationId", "d"}}, jpeg))
	f.Add(form([][2]string{{"Parameters", `{"livenessOperationMode":"PassiveActive","deviceCorrelationIdSetInClient":true}`}}, jpeg))
	f.Add(form([][2]string{{"livenessOperationMode", "Passive"}, {"authTokenTimeToLiveInSeconds", "NaN"}, {"verifyConfidenceThreshold", "-0"}}, jpeg))
	f.Add(form(nil, []byte("GIF89a")))
	f.Add([]byte("--BOUNDARY\r\nContent-Disposition: form-data; name=\"verifyImage\"\r\n\r\nx\r\n--BOUNDARY--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, ferr := parseCreateMultipart("multipart/form-data; boundary=BOUNDARY", bytes.NewReader(body))
		checkParsed(t, p, ferr)
		if ferr == nil && (len(p.verifyHash) != 64 || !utf8.ValidString(p.verifyHash)) {
			t.Fatalf("accepted a verify session without an image hash: %q", p.verifyHash)
		}
	})
}
