package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/liveness-quicklink/functions/internal/face"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// exampleRequest is one request built from api/openapi.yaml's examples alone.
type exampleRequest struct {
	name, method, path string
	header             map[string]string
	body               []byte
}

// Every request parameter and body in api/openapi.yaml has an example; each example is valid
// against the document and, sent to the handler, succeeds. A generator that builds requests from
// the document then starts from requests the app accepts.
func TestOpenAPIRequestExamplesAreAccepted(t *testing.T) {
	a := newApp(t, nil)
	var reqs []exampleRequest
	for _, path := range slices.Sorted(maps.Keys(a.api.doc.Paths.Map())) {
		item := a.api.doc.Paths.Value(path)
		if strings.HasPrefix(path, "/api/callback/") {
			// Its success needs a signature made with this run's key, which no example can hold;
			// callback_test.go sends signed requests of every kind.
			continue
		}
		// DELETE last: it ends the session the other examples read.
		for _, method := range []string{"POST", "GET", "PUT", "PATCH", "DELETE"} {
			if op := item.GetOperation(method); op != nil {
				reqs = append(reqs, examplesOf(t, method, path, append(slices.Clone(item.Parameters), op.Parameters...), op.RequestBody)...)
			}
		}
	}
	slices.SortStableFunc(reqs, func(x, y exampleRequest) int { return boolInt(x.method == "DELETE") - boolInt(y.method == "DELETE") })
	for _, r := range reqs {
		if rest, ok := strings.CutPrefix(r.path, "/api/sessions/"); ok {
			id, _, _ := strings.Cut(rest, "/") // IssueLink's path goes on with /link
			a.ensureSession(id)
		}
	}
	for _, r := range reqs {
		t.Run(r.name, func(t *testing.T) {
			a := a.on(t)
			req := mustRequest(t, r.method, r.path, a.functionKey)
			for k, v := range r.header {
				req.Header.Set(k, v)
			}
			if err := a.api.validateRequest(req, r.body); err != nil {
				t.Errorf("api/openapi.yaml rejects its own example: %v", err)
			}
			got := a.do(r.method, r.path, r.body, r.header)
			if got.status < 200 || got.status > 299 {
				t.Errorf("%s %s with the document's example = %d %.300s, want success", r.method, r.path, got.status, got.body)
			}
		})
	}
}

// examplesOf builds the example requests of one operation: each body example once, with the path
// parameters' examples; the optional parameters' examples go with the first body only, because
// an Idempotency-Key example sent with two bodies would rightly be refused as reused.
func examplesOf(t *testing.T, method, path string, params openapi3.Parameters, body *openapi3.RequestBodyRef) []exampleRequest {
	t.Helper()
	header := map[string]string{}
	optional := map[string]string{}
	for _, ref := range params {
		p := ref.Value
		ex := p.Example
		if ex == nil {
			t.Errorf("%s %s: parameter %s has no example", method, path, p.Name)
			continue
		}
		v := fmt.Sprint(ex)
		switch {
		case p.In == "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
		case p.In == "header" && p.Required:
			header[p.Name] = v
		case p.In == "header":
			optional[p.Name] = v
		default:
			t.Errorf("%s %s: parameter %s in %s: the test sends no such parameter yet", method, path, p.Name, p.In)
		}
	}
	if body == nil {
		return []exampleRequest{{name: method + " " + path, method: method, path: path, header: header}}
	}
	mt := body.Value.Content.Get("application/json")
	if mt == nil || len(mt.Examples) == 0 {
		t.Errorf("%s %s: the request body has no examples", method, path)
		return nil
	}
	var out []exampleRequest
	for i, name := range slices.Sorted(maps.Keys(mt.Examples)) {
		b, err := json.Marshal(mt.Examples[name].Value.Value)
		if err != nil {
			t.Fatalf("%s %s example %s: %v", method, path, name, err)
		}
		h := maps.Clone(header)
		if i == 0 {
			maps.Copy(h, optional)
		}
		out = append(out, exampleRequest{name: method + " " + path + " " + name, method: method, path: path, header: h, body: bytes.TrimSpace(b)})
	}
	return out
}

// ensureSession records a session with id, so that examples can address it.
func (a *app) ensureSession(id string) {
	a.t.Helper()
	if _, err := a.store.GetSession(a.t.Context(), id); err == nil {
		return
	}
	// A live Face token (of another Face session: the example's id is fixed) lets IssueLink's
	// example swap it at the quick link stand-in.
	fs, err := a.face.Create(a.t.Context(), face.KindLiveness, face.CreateRequest{Mode: "PassiveActive", DeviceCorrelationID: "device-example", AuthTokenTTLSeconds: 600})
	if err != nil {
		a.t.Fatalf("creating a Face session for example %s: %v", id, err)
	}
	now := a.clock.Now().UTC()
	err = a.store.CreateSession(a.t.Context(), &liveness.Session{
		ID: id, Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, Status: liveness.StatusCreated,
		DeviceCorrelationID: "device-example", TTLSeconds: 600, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		AuthToken: fs.AuthToken,
	})
	if err != nil {
		a.t.Fatalf("recording session %s: %v", id, err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The request side of the document is no looser than the handler: a pattern lets through nothing
// the handler's own checks refuse, for the fields whose refusal the document can express.
func TestOpenAPIRequestPatternsAreStrict(t *testing.T) {
	props := loadContract(t).doc.Components.Schemas["StartSessionRequest"].Value.Properties
	type patternCase struct {
		field, value string
		want         bool
	}
	tests := []patternCase{
		{"returnUrl", "https://app.example.com/done?x=1#f", true},
		{"returnUrl", "HTTPS://APP.EXAMPLE.COM", true},
		{"returnUrl", "http://localhost:3000/callback", true},
		{"returnUrl", "http://127.0.0.1:8080/", true},
		{"returnUrl", "http://[::1]:8080/", true},
		{"returnUrl", "https://[2001:db8::1]/x", true},
		{"returnUrl", "hTtp://", false}, // issue 7: a generator's invention
		{"returnUrl", "https://", false},
		{"returnUrl", "https:///app.example.com", false},
		{"returnUrl", "https://:443/", false},
		{"returnUrl", "http://app.example.com/", false},
		{"returnUrl", "https://user@app.example.com/", false},
		{"returnUrl", "https://app.example.com\\@evil.example/", false},
		{"returnUrl", "https://app.example.com/a b", false},
		{"returnUrl", "https://app.example.com/\u202e", false},
		{"returnUrl", "ftp://app.example.com/", false},
		{"returnUrl", "javascript:alert(1)", false},
		{"externalReference", "order-42", true},
		{"externalReference", "Müller 日本 😀", true},
		{"deviceCorrelationId", "device-7f3c2a", true},
		{"verifyImage", "QUJD", true},
		{"verifyImage", "QUI=", true},
		{"verifyImage", "QUJD\n", false},
		{"verifyImage", " QUJD", false},
		{"verifyImage", "QUJ", false},
		{"verifyImage", "QU-_", false},
	}
	for _, c := range controlCharacters {
		tests = append(tests, patternCase{"externalReference", "a" + string(c), false}, patternCase{"deviceCorrelationId", string(c), false})
	}
	for _, tt := range tests {
		s := props[tt.field].Value
		// Only the pattern: lengths are held to the handler in TestOpenAPIStartRequestLimitsMatchParser.
		pattern := &openapi3.Schema{Type: s.Type, Pattern: s.Pattern}
		err := pattern.VisitJSON(tt.value)
		if got := err == nil; got != tt.want {
			t.Errorf("%s pattern on %+q: valid = %v, want %v (%v)", tt.field, tt.value, got, tt.want, err)
		}
	}
}
