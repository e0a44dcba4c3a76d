package handlers

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// badInput is a request the handler must refuse before it calls Face or writes anything.
type badInput struct {
	name   string
	method string // default POST
	path   string // default /api/sessions
	body   string
	header map[string]string
	// lines are header lines added as they are, for repeated or empty headers.
	lines  [][2]string
	status int    // default 400
	code   string // default invalid_request
	// docAccepts marks input that api/openapi.yaml, as kin-openapi reads it, accepts: what only the
	// handler can judge (an origin, an image's content). Everything else the document must reject too.
	docAccepts bool
}

func badInputs(t *testing.T) []badInput {
	png := pngImage(t)
	small := png[:minImageBytes-1]
	huge := append(append([]byte(nil), png[:8]...), make([]byte, maxImageBytes+1-8)...)
	text := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("not an image, just text. ", 60)))
	verify := func(img string) string { return `{"kind":"livenessWithVerify","verifyImage":"` + img + `"}` }
	const guid = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"

	cases := []badInput{
		{name: "malformed JSON", body: `{"kind":`},
		{name: "malformed JSON trailing comma", body: `{"kind":"liveness",}`},
		{name: "two objects", body: `{"kind":"liveness"}{"kind":"liveness"}`, docAccepts: true}, // kin-openapi reads the first only
		{name: "array", body: `[]`},
		{name: "string", body: `"x"`},
		{name: "number", body: `1`},
		{name: "null", body: `null`},
		{name: "unknown field", body: `{"kind":"liveness","color":"red"}`},
		{name: "authToken is not an input", body: `{"authToken":"x"}`},
		{name: "kind not a string", body: `{"kind":1}`},
		{name: "mode not a string", body: `{"mode":true}`},
		{name: "externalReference not a string", body: `{"externalReference":5}`},
		{name: "deviceCorrelationId not a string", body: `{"deviceCorrelationId":{}}`},
		{name: "returnUrl not a string", body: `{"returnUrl":["https://app.example.com/"]}`},
		{name: "issueLink not a boolean", body: `{"issueLink":1}`},
		{name: "enableSessionImage not a boolean", body: `{"enableSessionImage":"yes"}`},
		{name: "verifyImage not a string", body: `{"kind":"livenessWithVerify","verifyImage":[1,2]}`},
		{name: "kind not in enum", body: `{"kind":"verify"}`},
		{name: "mode not in enum", body: `{"mode":"Active"}`},
		{name: "mode in the wrong case", body: `{"mode":"passive"}`},
		{name: "ttlSeconds 59", body: `{"ttlSeconds":59}`},
		{name: "ttlSeconds 86401", body: `{"ttlSeconds":86401}`},
		{name: "ttlSeconds -1", body: `{"ttlSeconds":-1}`},
		{name: "ttlSeconds as a string", body: `{"ttlSeconds":"600"}`},
		{name: "ttlSeconds 600.5", body: `{"ttlSeconds":600.5}`},
		{name: "ttlSeconds beyond int64", body: `{"ttlSeconds":1e30}`},
		{name: "externalReference 129 chars", body: `{"externalReference":"` + strings.Repeat("r", 129) + `"}`},
		{name: "externalReference with a control character", body: `{"externalReference":"a\nb"}`},
		{name: "deviceCorrelationId 65 chars", body: `{"deviceCorrelationId":"` + strings.Repeat("d", 65) + `"}`},
		{name: "deviceCorrelationId empty", body: `{"deviceCorrelationId":""}`},
		{name: "returnUrl relative", body: `{"returnUrl":"/done"}`},
		{name: "returnUrl scheme-relative", body: `{"returnUrl":"//app.example.com/done"}`},
		{name: "returnUrl javascript", body: `{"returnUrl":"javascript:alert(1)"}`},
		{name: "returnUrl data", body: `{"returnUrl":"data:text/html,x"}`},
		{name: "returnUrl http to another host", body: `{"returnUrl":"http://app.example.com/done"}`},
		{name: "returnUrl origin not allowed", body: `{"returnUrl":"https://evil.example/done"}`, docAccepts: true},
		{name: "returnUrl allowed host on another port", body: `{"returnUrl":"https://app.example.com:8443/done"}`, docAccepts: true},
		{name: "returnUrl with userinfo", body: `{"returnUrl":"https://good@evil.example/"}`},
		{name: "returnUrl with userinfo on an allowed host", body: `{"returnUrl":"https://user:pw@app.example.com/"}`},
		{name: "verifyImage not base64", body: verify("not base64!")},
		{name: "verifyImage base64 of text", body: verify(text), docAccepts: true},
		{name: "verifyImage under 1 KB", body: verify(b64(small))},
		{name: "verifyImage over 6 MB", body: verify(b64(huge))},
		{name: "verifyImage for kind liveness", body: `{"kind":"liveness","verifyImage":"` + b64(png) + `"}`, docAccepts: true},
		{name: "verifyImage missing for livenessWithVerify", body: `{"kind":"livenessWithVerify"}`, docAccepts: true},
		{name: "body over the limit", body: `{"externalReference":"` + strings.Repeat("x", defaultMaxBodyBytes) + `"}`,
			status: http.StatusRequestEntityTooLarge, code: "payload_too_large"},
		{name: "text/plain", body: `{}`, header: map[string]string{"Content-Type": "text/plain"},
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{name: "form content type", body: `kind=liveness`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{name: "Idempotency-Key over 255 chars", body: `{}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}},
		{name: "Idempotency-Key with a space", body: `{}`, header: map[string]string{"Idempotency-Key": "a b"}},
		{name: "Idempotency-Key not ASCII", body: `{}`, header: map[string]string{"Idempotency-Key": "clé"}},
	}
	cases = append(cases, inputKinds(t)...)
	for _, id := range []string{
		"not-a-guid",
		"12345",
		strings.ReplaceAll(guid, "-", ""),
		guid[:len(guid)-1] + "'",
		"'",
		url.PathEscape("x' or PartitionKey ne 'y"),
		url.PathEscape(guid + "' or '1' eq '1"),
		"a%2Fb",
		"..%2F..",
		guid + "%2F..",
		"%2E%2E",
		guid + "%20",
		"%7B" + guid + "%7D",
		guid + "0",
	} {
		for _, method := range []string{"GET", "DELETE"} {
			cases = append(cases, badInput{name: method + " session id " + id, method: method, path: "/api/sessions/" + id})
		}
	}
	return cases
}

func TestBadInputChangesNothing(t *testing.T) {
	a := newApp(t, nil)
	a.start(`{"externalReference":"already there"}`) // the table is not empty, so "unchanged" means something
	for _, tc := range badInputs(t) {
		if tc.method == "" {
			tc.method = "POST"
		}
		if tc.path == "" {
			tc.path = "/api/sessions"
		}
		if tc.status == 0 {
			tc.status, tc.code = http.StatusBadRequest, "invalid_request"
		}
		t.Run(tc.name, func(t *testing.T) {
			a := a.on(t)
			before, faceCalls := a.rows(), a.stub.Stats().Total
			var body []byte
			if tc.method == "POST" {
				body = []byte(tc.body)
			}

			req := a.request(tc.method, tc.path, body, tc.header)
			for _, l := range tc.lines {
				req.Header.Add(l[0], l[1])
			}
			r := a.send(req)
			r.wantProblem(t, tc.status, tc.code)
			if got := a.stub.Stats().Total - faceCalls; got != 0 {
				t.Errorf("the Face stand-in got %d requests, want none", got)
			}
			if after := a.rows(); !mapsEqual(before, after) {
				t.Errorf("the table changed: %d rows → %d rows", len(before), len(after))
			}

			req = mustRequest(t, tc.method, tc.path, a.functionKey)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			for _, l := range tc.lines {
				req.Header.Add(l[0], l[1])
			}
			if err := a.api.validateRequest(req, body); tc.docAccepts && err != nil {
				t.Errorf("api/openapi.yaml rejects this request (%v), but only the handler can judge it", err)
			} else if !tc.docAccepts && err == nil {
				t.Errorf("api/openapi.yaml accepts this request, which the handler rejects with %d", tc.status)
			}
		})
	}
}

// A chunked body is refused even when it does arrive: behind the Functions host it never would
// (the host forwards no chunked body), and the app must not act on a body it did not get.
func TestChunkedBodyIsRefused(t *testing.T) {
	a := newApp(t, nil)
	before := a.rows()
	body := strings.NewReader(`{"externalReference":"chunked"}`)
	req, err := http.NewRequest("POST", a.url+"/api/sessions", body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-functions-key", a.functionKey)
	r := a.send(req)
	r.wantProblem(t, http.StatusLengthRequired, "length_required")
	if got := a.stub.Stats().Total; got != 0 {
		t.Errorf("the Face stand-in got %d requests, want none", got)
	}
	if after := a.rows(); !mapsEqual(before, after) {
		t.Errorf("the table changed: %v → %v", before, after)
	}
}
