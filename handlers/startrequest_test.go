package handlers

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/origin"
)

// testOrigins are the allowed returnUrl origins of every test, normalized as config does it.
func testOrigins(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, raw := range []string{"https://App.Example.com:443/", "http://localhost:3000"} {
		o, err := origin.Normalize(raw)
		if err != nil {
			tb.Fatalf("origin.Normalize(%q): %v", raw, err)
		}
		out = append(out, o)
	}
	return out
}

func TestParseStartRequestDefaultsAndFields(t *testing.T) {
	img := pngImage(t)
	ref := strings.Repeat("é", maxExternalReference) // 128 characters, 256 bytes
	tests := []struct {
		name string
		body string
		want startParams
	}{
		{"empty body", "", startParams{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600}},
		{"empty object", " {} ", startParams{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600}},
		{
			"every liveness field",
			`{"kind":"liveness","mode":"Passive","externalReference":"` + ref + `","deviceCorrelationId":"` + strings.Repeat("d", 64) +
				`","returnUrl":"https://app.example.com/done?x=1","ttlSeconds":60,"issueLink":false,"enableSessionImage":true}`,
			startParams{Kind: liveness.KindLiveness, Mode: liveness.ModePassive, ExternalReference: ref,
				DeviceCorrelationID: strings.Repeat("d", 64), ReturnURL: "https://app.example.com/done?x=1",
				TTLSeconds: 60, EnableSessionImage: true},
		},
		{
			"verify with the longest ttl",
			`{"kind":"livenessWithVerify","ttlSeconds":86400,"verifyImage":"` + b64(img) + `"}`,
			startParams{Kind: liveness.KindLivenessWithVerify, Mode: liveness.ModePassiveActive, TTLSeconds: 86400, VerifyImage: img},
		},
		{"issueLink is passed on", `{"issueLink":true}`, startParams{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600, IssueLink: true}},
		{"qr with issueLink", `{"issueLink":true,"qr":"png"}`, startParams{Kind: liveness.KindLiveness, Mode: liveness.ModePassiveActive, TTLSeconds: 600, IssueLink: true, QR: qrPNG}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStartRequest([]byte(tt.body), liveness.ModePassiveActive, testOrigins(t))
			if err != nil {
				t.Fatalf("parseStartRequest: %v", err)
			}
			if len(got.Hash) != 64 {
				t.Errorf("Hash = %q, want 64 hex digits", got.Hash)
			}
			got.Hash = ""
			if !equalParams(*got, tt.want) {
				t.Errorf("parseStartRequest = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func equalParams(a, b startParams) bool {
	return bytes.Equal(a.VerifyImage, b.VerifyImage) &&
		a.Kind == b.Kind && a.Mode == b.Mode && a.ExternalReference == b.ExternalReference &&
		a.DeviceCorrelationID == b.DeviceCorrelationID && a.ReturnURL == b.ReturnURL && a.TTLSeconds == b.TTLSeconds &&
		a.IssueLink == b.IssueLink && a.QR == b.QR && a.EnableSessionImage == b.EnableSessionImage && a.Hash == b.Hash
}

func TestParseStartRequestHashTellsBodiesApart(t *testing.T) {
	parse := func(body string) string {
		p, err := parseStartRequest([]byte(body), liveness.ModePassive, testOrigins(t))
		if err != nil {
			t.Fatalf("parseStartRequest(%s): %v", body, err)
		}
		return p.Hash
	}
	if a, b := parse(`{"ttlSeconds":600,"mode":"Passive"}`), parse(`{ "mode": "Passive", "ttlSeconds": 600 }`); a != b {
		t.Errorf("the same request spelled differently hashes differently: %s vs %s", a, b)
	}
	if a, b := parse(`{"ttlSeconds":600}`), parse(`{"ttlSeconds":601}`); a == b {
		t.Errorf("different requests hash alike: %s", a)
	}
	if a, b := parse(`{"issueLink":true,"qr":"svg"}`), parse(`{"issueLink":true,"qr":"png"}`); a == b {
		t.Errorf("requests for different QR codes hash alike: %s", a)
	}
}

func TestCheckReturnURL(t *testing.T) {
	origins := testOrigins(t)
	long := "https://app.example.com/" + strings.Repeat("a", maxReturnURL)
	tests := []struct {
		raw string
		ok  bool
	}{
		{"https://app.example.com/done?x=1#f", true},
		{"HTTPS://APP.EXAMPLE.COM/done", true},
		{"https://app.example.com:443/done", true},
		{"http://localhost:3000/callback", true},
		{"https://app.example.com:8443/done", false},
		{"http://app.example.com/done", false},
		{"https://evil.example/", false},
		{"https://app.example.com.evil.example/", false},
		{"https://good@app.example.com/", false},
		{"https://good@evil.example/", false},
		{"https://app.example.com\\@evil.example/", false},
		{"//app.example.com/done", false},
		{"/done", false},
		{"app.example.com/done", false},
		{"javascript:alert(1)", false},
		{"data:text/html,x", false},
		{"ftp://app.example.com/", false},
		{"http://localhost:3001/", false},
		{"http://localhost/", false},
		{"https:///app.example.com", false},
		{long, false},
	}
	for _, tt := range tests {
		got, err := checkReturnURL(tt.raw, origins)
		switch {
		case tt.ok && err != nil:
			t.Errorf("checkReturnURL(%.60q) = %v, want accepted", tt.raw, err)
		case !tt.ok && err == nil:
			t.Errorf("checkReturnURL(%.60q) accepted %q, want rejected", tt.raw, got)
		case !tt.ok && !errors.Is(err, liveness.ErrInvalidRequest):
			t.Errorf("checkReturnURL(%.60q) = %v, want an invalid-request error", tt.raw, err)
		}
	}
}

func FuzzParseStartRequest(f *testing.F) {
	img := b64(pngImage(f))
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `1`, `{"kind":"liveness"}`, `{"kind":"livenessWithVerify","verifyImage":"` + img + `"}`,
		`{"mode":"Passive","ttlSeconds":60,"externalReference":"r","deviceCorrelationId":"d","enableSessionImage":true}`,
		`{"returnUrl":"https://app.example.com/x"}`, `{"returnUrl":"http://localhost:3000/x"}`,
		`{"returnUrl":"https://good@evil.example/"}`, `{"ttlSeconds":600.5}`, `{"ttlSeconds":"600"}`,
		`{"kind":null}`, `{"a":1}`, `{"kind":"liveness"}{}`, `{"kind":"liveness"}]`, `{"externalReference":"\u0000"}`,
		`{"verifyImage":"` + img + `"}`, `{"issueLink":true}`, `{"issueLink":true,"qr":"svg"}`, `{"qr":"png"}`,
	} {
		f.Add([]byte(seed))
	}
	origins := testOrigins(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseStartRequest(body, liveness.ModePassiveActive, origins)
		if err != nil {
			if !errors.Is(err, liveness.ErrInvalidRequest) {
				t.Fatalf("rejected with %v, which is not an invalid-request error", err)
			}
			return
		}
		checkAcceptedParams(t, p, origins)
	})
}

// checkAcceptedParams fails t unless p respects every limit of design §3.
func checkAcceptedParams(t *testing.T, p *startParams, origins []string) {
	t.Helper()
	if !p.Kind.Valid() || !p.Mode.Valid() {
		t.Errorf("accepted kind %q, mode %q", p.Kind, p.Mode)
	}
	if p.TTLSeconds < minTTLSeconds || p.TTLSeconds > maxTTLSeconds {
		t.Errorf("accepted ttlSeconds %d", p.TTLSeconds)
	}
	if p.QR != qrNone && (!p.IssueLink || (p.QR != qrSVG && p.QR != qrPNG)) {
		t.Errorf("accepted qr %q with issueLink %t", p.QR, p.IssueLink)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"externalReference", p.ExternalReference, maxExternalReference}, {"deviceCorrelationId", p.DeviceCorrelationID, maxDeviceCorrelationID}} {
		if !utf8.ValidString(f.v) || utf8.RuneCountInString(f.v) > f.max || hasControl(f.v) {
			t.Errorf("accepted %s %q", f.name, f.v)
		}
	}
	if p.ReturnURL != "" {
		u, err := url.Parse(p.ReturnURL)
		if err != nil || len(p.ReturnURL) > maxReturnURL || u.User != nil {
			t.Errorf("accepted returnUrl %q", p.ReturnURL)
		} else if o, err := origin.Of(u); err != nil || !slices.Contains(origins, o) {
			t.Errorf("accepted returnUrl %q of origin %q (%v), not an allowed one", p.ReturnURL, o, err)
		}
	}
	wantImage := p.Kind == liveness.KindLivenessWithVerify
	if gotImage := p.VerifyImage != nil; gotImage != wantImage {
		t.Errorf("accepted kind %s with image = %v", p.Kind, gotImage)
	}
	if wantImage && (len(p.VerifyImage) < minImageBytes || len(p.VerifyImage) > maxImageBytes) {
		t.Errorf("accepted an image of %d bytes", len(p.VerifyImage))
	}
	if _, err := hex.DecodeString(p.Hash); err != nil || len(p.Hash) != 64 {
		t.Errorf("Hash %q is not a hex SHA-256", p.Hash)
	}
}
