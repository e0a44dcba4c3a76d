package handlers

import (
	"bytes"
	"encoding/base64"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/liveness-quicklink/functions/internal/liveness"
)

// startRequestAsText is startRequest with verifyImage read as encoding/json reads any string: the
// reference decodeObject's lifting of base64 (liftBase64) must agree with.
type startRequestAsText struct {
	Kind                *string `json:"kind"`
	Mode                *string `json:"mode"`
	ExternalReference   *string `json:"externalReference"`
	DeviceCorrelationID *string `json:"deviceCorrelationId"`
	ReturnURL           *string `json:"returnUrl"`
	TTLSeconds          *int    `json:"ttlSeconds"`
	VerifyImage         *string `json:"verifyImage"`
	IssueLink           *bool   `json:"issueLink"`
	QR                  *string `json:"qr"`
	EnableSessionImage  *bool   `json:"enableSessionImage"`
}

// decodedAlike decodes body both ways and reports any difference: the same error, or the same
// members with the same base64 verdict and bytes.
func decodedAlike(t *testing.T, body []byte) {
	t.Helper()
	var got startRequest
	var want startRequestAsText
	gotErr, wantErr := decodeObject(body, &got), decodeObject(body, &want)
	if gotErr != nil || wantErr != nil {
		if gotErr == nil || wantErr == nil || gotErr.Error() != wantErr.Error() {
			t.Fatalf("decodeObject(%.80q) = %v, as text %v", body, gotErr, wantErr)
		}
		return
	}
	if (got.VerifyImage == nil) != (want.VerifyImage == nil) {
		t.Fatalf("decodeObject(%.80q): verifyImage present %t, as text %t", body, got.VerifyImage != nil, want.VerifyImage != nil)
	}
	if want.VerifyImage != nil {
		data, err := base64.StdEncoding.Strict().DecodeString(*want.VerifyImage)
		if got.VerifyImage.valid != (err == nil) {
			t.Fatalf("decodeObject(%.80q): base64 valid %t, as text %t", body, got.VerifyImage.valid, err == nil)
		}
		if err == nil && !bytes.Equal(got.VerifyImage.data, data) {
			t.Fatalf("decodeObject(%.80q): %d decoded bytes differ from the %d decoded as text", body, len(got.VerifyImage.data), len(data))
		}
	}
	got.VerifyImage, want.VerifyImage = nil, nil
	other := startRequestAsText{got.Kind, got.Mode, got.ExternalReference, got.DeviceCorrelationID, got.ReturnURL,
		got.TTLSeconds, nil, got.IssueLink, got.QR, got.EnableSessionImage}
	if diff := cmp.Diff(want, other); diff != "" {
		t.Fatalf("decodeObject(%.80q): other members (-as text +lifted):\n%s", body, diff)
	}
}

// The verify image's base64 is decoded straight from the body when that cannot change the
// outcome, and the whole body is decoded as before otherwise: every body below decodes, or fails
// with the same message (syntax errors' byte offsets included), as with verifyImage read as text.
func TestLiftedBase64DecodesAsText(t *testing.T) {
	img := base64.StdEncoding.EncodeToString(jpegImage(t))
	escaped := strings.ReplaceAll(img, "/", `\/`) // how PHP's json_encode writes it
	for name, body := range map[string]string{
		"plain":                   `{"kind":"livenessWithVerify","verifyImage":"` + img + `"}`,
		"spaced":                  "{ \"verifyImage\" :\r\n\t\"" + img + "\" , \"ttlSeconds\":600 }",
		"first member":            `{"verifyImage":"` + img + `","kind":"livenessWithVerify"}`,
		"escaped slashes":         `{"verifyImage":"` + escaped + `"}`,
		"escaped line break":      `{"verifyImage":"` + img[:40] + `\n` + img[40:] + `"}`,
		"raw line break":          "{\"verifyImage\":\"" + img[:40] + "\n" + img[40:] + "\"}",
		"raw carriage return":     "{\"verifyImage\":\"" + img[:40] + "\r" + img[40:] + "\"}",
		"space inside":            `{"verifyImage":"` + img[:40] + ` ` + img[40:] + `"}`,
		"not strict (pad bits)":   `{"verifyImage":"AB=="}`,
		"not base64":              `{"verifyImage":"` + img[:41] + `"}`,
		"empty":                   `{"verifyImage":""}`,
		"escaped name":            `{"verify\u0049mage":"` + img + `"}`,
		"other case name":         `{"VerifyImage":"` + img + `"}`,
		"duplicate":               `{"verifyImage":"` + img + `","verifyImage":"` + img + `"}`,
		"duplicate after number":  `{"verifyImage":5,"verifyImage":"` + img + `"}`,
		"number":                  `{"verifyImage":5}`,
		"null":                    `{"verifyImage":null}`,
		"array":                   `{"verifyImage":["` + img + `"]}`,
		"object":                  `{"verifyImage":{"a":"` + img + `"}}`,
		"nested member":           `{"kind":"livenessWithVerify","x":{"verifyImage":"` + img + `"}}`,
		"inside another string":   `{"externalReference":"x\",\"verifyImage\":\"` + img[:8] + `","verifyImage":"` + img + `"}`,
		"after an escaped quote":  `{"externalReference":"a\"b\\","verifyImage":"` + img + `"}`,
		"trailing comma":          `{"verifyImage":"` + img + `",}`,
		"syntax error after":      `{"verifyImage":"` + img + `","ttlSeconds":6x}`,
		"syntax error before":     `{"ttlSeconds":6x,"verifyImage":"` + img + `"}`,
		"missing colon":           `{"verifyImage" "` + img + `"}`,
		"unterminated":            `{"verifyImage":"` + img,
		"trailing data":           `{"verifyImage":"` + img + `"} {}`,
		"unknown after":           `{"verifyImage":"` + img + `","nope":1}`,
		"wrong type after":        `{"verifyImage":"` + img + `","ttlSeconds":"600"}`,
		"control after":           `{"verifyImage":"` + img + `","externalReference":"a\u202eb"}`,
		"lone surrogate after":    `{"verifyImage":"` + img + `","externalReference":"\ud800"}`,
		"null after":              `{"verifyImage":"` + img + `","kind":null}`,
		"array body":              `["verifyImage","` + img + `"]`,
		"key without value":       `{"verifyImage"}`,
		"string ends at the body": `{"verifyImage":"`,
	} {
		t.Run(name, func(t *testing.T) { decodedAlike(t, []byte(body)) })
	}
}

// FuzzLiftedBase64 holds liftBase64 to decoding the whole body as text, on any body.
func FuzzLiftedBase64(f *testing.F) {
	for _, seed := range []string{
		`{"verifyImage":"QUJD"}`, `{"kind":"livenessWithVerify","verifyImage":"QUJDRA=="}`, `{"verifyImage":"QUJD","verifyImage":"QUJD"}`,
		`{"verifyImage":"QU\/D"}`, `{"verifyImage":"QUJD",}`, `{"x":{"verifyImage":"QUJD"}}`, `{"verifyImage":"QUJD"}x`,
		`{"externalReference":"\"verifyImage\":\"QUJD\"","verifyImage":"QUJE"}`, "{\"verifyImage\":\"QU\nJD\"}", `{"verifyImage":"AB=="}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) { decodedAlike(t, body) })
}

// A 6 MB verify image costs about its own size in allocations to validate (issue 11, item 6: at
// most twice); decoding its base64 through encoding/json as a string cost about ten times.
func TestVerifyImageParseAllocations(t *testing.T) {
	// A small JPEG and a trailer, as phones append, make the largest image the API takes.
	img := jpegImage(t)
	img = append(img, make([]byte, maxImageBytes-len(img))...)
	body := verifyBody(img)
	limit := uint64(2 * len(img))
	least := ^uint64(0)
	for range 3 { // the least of three: other goroutines of the test binary allocate too
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := parseStartRequest(body, liveness.ModePassiveActive, nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("parseStartRequest: %v", err)
		}
		if !bytes.Equal(p.VerifyImage, img) {
			t.Fatal("parseStartRequest: the image differs from the one sent")
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > limit {
		t.Errorf("parseStartRequest of a %d-byte image allocated %d bytes, want at most %d (twice the image)", len(img), least, limit)
	}
}
