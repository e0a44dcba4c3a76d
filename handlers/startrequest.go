package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/origin"
)

// Limits of design §3.
const (
	maxExternalReference   = 128
	maxDeviceCorrelationID = 64
	maxReturnURL           = 2048
	minTTLSeconds          = 60
	maxTTLSeconds          = 86400
	defaultTTLSeconds      = 600
	minImageBytes          = 1 << 10
	maxImageBytes          = 6 << 20
	maxIdempotencyKey      = 255
)

// startRequest is the StartSession body as sent. Pointers tell "absent" from zero values.
type startRequest struct {
	Kind                *string      `json:"kind"`
	Mode                *string      `json:"mode"`
	ExternalReference   *string      `json:"externalReference"`
	DeviceCorrelationID *string      `json:"deviceCorrelationId"`
	ReturnURL           *string      `json:"returnUrl"`
	TTLSeconds          *int         `json:"ttlSeconds"`
	VerifyImage         *base64Bytes `json:"verifyImage"`
	IssueLink           *bool        `json:"issueLink"`
	QR                  *string      `json:"qr"`
	EnableSessionImage  *bool        `json:"enableSessionImage"`
}

// startParams is a validated StartSession request with defaults applied.
type startParams struct {
	Kind                liveness.Kind
	Mode                liveness.Mode
	ExternalReference   string
	DeviceCorrelationID string // empty: the server picks a new UUID
	ReturnURL           string
	TTLSeconds          int
	VerifyImage         []byte
	IssueLink           bool
	QR                  qrFormat // only with IssueLink
	EnableSessionImage  bool

	// Hash identifies the request for Idempotency-Key comparison.
	Hash string
}

// parseStartRequest decodes and validates a StartSession body. It touches nothing outside.
func parseStartRequest(body []byte, defaultMode liveness.Mode, allowedOrigins []string) (*startParams, error) {
	var req startRequest
	if err := decodeObject(body, &req); err != nil {
		return nil, err
	}
	p := &startParams{Kind: liveness.KindLiveness, Mode: defaultMode, TTLSeconds: defaultTTLSeconds}
	if req.Kind != nil {
		p.Kind = liveness.Kind(*req.Kind)
		if !p.Kind.Valid() {
			return nil, liveness.Invalid("kind", "must be liveness or livenessWithVerify")
		}
	}
	if req.Mode != nil {
		p.Mode = liveness.Mode(*req.Mode)
		if !p.Mode.Valid() {
			return nil, liveness.Invalid("mode", "must be Passive or PassiveActive")
		}
	}
	if req.ExternalReference != nil {
		if err := checkText("externalReference", *req.ExternalReference, maxExternalReference); err != nil {
			return nil, err
		}
		p.ExternalReference = *req.ExternalReference
	}
	if req.DeviceCorrelationID != nil {
		if err := checkText("deviceCorrelationId", *req.DeviceCorrelationID, maxDeviceCorrelationID); err != nil {
			return nil, err
		}
		if *req.DeviceCorrelationID == "" {
			return nil, liveness.Invalid("deviceCorrelationId", "must not be empty")
		}
		p.DeviceCorrelationID = *req.DeviceCorrelationID
	}
	if req.ReturnURL != nil {
		u, err := checkReturnURL(*req.ReturnURL, allowedOrigins)
		if err != nil {
			return nil, err
		}
		p.ReturnURL = u
	}
	if req.TTLSeconds != nil {
		if *req.TTLSeconds < minTTLSeconds || *req.TTLSeconds > maxTTLSeconds {
			return nil, liveness.Invalid("ttlSeconds", "must be an integer from 60 to 86400")
		}
		p.TTLSeconds = *req.TTLSeconds
	}
	switch {
	case p.Kind == liveness.KindLivenessWithVerify && req.VerifyImage == nil:
		return nil, liveness.Invalid("verifyImage", "is required for kind livenessWithVerify")
	case p.Kind == liveness.KindLiveness && req.VerifyImage != nil:
		return nil, liveness.Invalid("verifyImage", "is only allowed for kind livenessWithVerify")
	case req.VerifyImage != nil:
		img, err := checkImage(req.VerifyImage)
		if err != nil {
			return nil, err
		}
		p.VerifyImage = img
	}
	if req.IssueLink != nil {
		p.IssueLink = *req.IssueLink
	}
	qr, err := parseQR(req.QR)
	if err != nil {
		return nil, err
	}
	if qr != qrNone && !p.IssueLink {
		return nil, liveness.Invalid("qr", "is only allowed with issueLink: true")
	}
	p.QR = qr
	if req.EnableSessionImage != nil {
		p.EnableSessionImage = *req.EnableSessionImage
	}
	p.Hash = requestHash(&req, p.VerifyImage)
	return p, nil
}

// requestHash identifies a request as sent, for Idempotency-Key comparison: the same members with
// the same values give the same hash whatever their order or spacing. The image is hashed as
// decoded bytes, so an 8 MB base64 string is not encoded a second time.
func requestHash(req *startRequest, image []byte) string {
	h := sha256.New()
	str := func(name string, v *string) {
		if v != nil {
			fmt.Fprintf(h, "%s:%d:%s\n", name, len(*v), *v)
		}
	}
	str("kind", req.Kind)
	str("mode", req.Mode)
	str("externalReference", req.ExternalReference)
	str("deviceCorrelationId", req.DeviceCorrelationID)
	str("returnUrl", req.ReturnURL)
	str("qr", req.QR)
	if req.TTLSeconds != nil {
		fmt.Fprintf(h, "ttlSeconds:%d\n", *req.TTLSeconds)
	}
	if req.IssueLink != nil {
		fmt.Fprintf(h, "issueLink:%t\n", *req.IssueLink)
	}
	if req.EnableSessionImage != nil {
		fmt.Fprintf(h, "enableSessionImage:%t\n", *req.EnableSessionImage)
	}
	if req.VerifyImage != nil {
		fmt.Fprintf(h, "verifyImage:%d:", len(image))
		h.Write(image)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkText bounds a free-text field by characters and keeps control and bidirectional
// formatting characters out of logs and events. decodeObject already refuses them in every string
// of a body; this holds the field to it whatever decoded it.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return liveness.Invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(v) > max {
		return liveness.Invalid(field, fmt.Sprintf("must be at most %d characters", max))
	}
	if hasControl(v) {
		return controlInvalid(field, v)
	}
	return nil
}

func checkReturnURL(raw string, allowed []string) (string, error) {
	const field = "returnUrl"
	if len(raw) > maxReturnURL {
		return "", liveness.Invalid(field, "must be at most 2048 characters")
	}
	if hasControl(raw) { // decodeObject refuses them in any body; this holds the field to it whatever decoded it
		return "", controlInvalid(field, raw)
	}
	if strings.ContainsRune(raw, ' ') { // url.Parse takes one; api/openapi.yaml's pattern does not
		return "", liveness.Invalid(field, "must not contain spaces (percent-encode them as %20)")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", liveness.Invalid(field, "must be an absolute https URL")
	}
	if u.User != nil {
		return "", liveness.Invalid(field, "must not contain user information")
	}
	origin, err := origin.Of(u)
	if err != nil {
		return "", liveness.Invalid(field, err.Error())
	}
	if !slices.Contains(allowed, origin) {
		return "", liveness.Invalid(field, "origin is not in RETURN_URL_ALLOWED_ORIGINS")
	}
	return u.String(), nil
}

func checkImage(v *base64Bytes) ([]byte, error) {
	const field = "verifyImage"
	if !v.valid { // strict base64 without spaces: api/openapi.yaml's pattern has none
		return nil, liveness.Invalid(field, "must be base64")
	}
	img := v.data
	if len(img) < minImageBytes || len(img) > maxImageBytes {
		return nil, liveness.Invalid(field, "must be an image of 1 KB to 6 MB")
	}
	if err := checkImageContent(img); err != nil {
		return nil, err
	}
	return img, nil
}

// idempotencyKey returns the Idempotency-Key header, checked as api/openapi.yaml describes it (one
// line of 1 to 255 printable ASCII characters, no spaces); "" means none was sent.
func idempotencyKey(r *http.Request) (string, error) {
	const name = "Idempotency-Key"
	key, ok, err := singleHeader(r, name)
	switch {
	case err != nil || !ok:
		return "", err
	case key == "":
		return "", liveness.Invalid(name, "must not be empty (leave the header out for none)")
	case len(key) > maxIdempotencyKey:
		return "", liveness.Invalid(name, "must be at most 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", liveness.Invalid(name, "must be printable ASCII without spaces")
		}
	}
	return key, nil
}
