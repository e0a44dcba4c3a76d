package facestub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"unicode/utf8"
)

const (
	modePassive       = "Passive"
	modePassiveActive = "PassiveActive"
	modelVersion      = "2024-11-15" // the only LivenessModel value of the v1.2 spec

	defaultTTLSeconds = 600
	minTTLSeconds     = 60
	maxTTLSeconds     = 86400

	minImageBytes = 1 << 10
	maxImageBytes = 6 << 20

	maxJSONBody  = 1 << 20
	maxFieldSize = 64 << 10
)

// createParams is a create request that passed validation.
type createParams struct {
	mode         string
	sessionImage bool
	ttlSeconds   int
	verifyHash   string  // upper-case hex SHA-256 of the verify image; verify sessions only
	returnHash   bool    // returnVerifyImageHash
	threshold    float64 // verifyConfidenceThreshold; 0 when not given
	hasThreshold bool
}

// createContent is CreateLivenessSessionContent plus the multipart-only fields. Pointers tell absent
// (and JSON null) from zero values; fields the spec does not name are ignored, as the service does.
type createContent struct {
	LivenessOperationMode          *string  `json:"livenessOperationMode"`
	DeviceCorrelationIDSetInClient *bool    `json:"deviceCorrelationIdSetInClient"`
	EnableSessionImage             *bool    `json:"enableSessionImage"`
	LivenessModelVersion           *string  `json:"livenessModelVersion"`
	DeviceCorrelationID            *string  `json:"deviceCorrelationId"`
	AuthTokenTimeToLiveInSeconds   *float64 `json:"authTokenTimeToLiveInSeconds"`
	ReturnVerifyImageHash          *bool    `json:"returnVerifyImageHash"`
	VerifyConfidenceThreshold      *float64 `json:"verifyConfidenceThreshold"`
}

// parseCreateJSON reads the body of CreateLivenessSession.
func parseCreateJSON(contentType string, body io.Reader) (createParams, *faceError) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return createParams{}, errInvalidRequestBody("Content-Type must be application/json.")
	}
	raw, err := io.ReadAll(io.LimitReader(body, maxJSONBody+1))
	if err != nil {
		return createParams{}, errInvalidRequestBody("The body could not be read.")
	}
	if len(raw) > maxJSONBody {
		return createParams{}, errInvalidRequestBody("The body is too large.")
	}
	c, ferr := decodeContent(raw)
	if ferr != nil {
		return createParams{}, ferr
	}
	return c.validate()
}

func decodeContent(raw []byte) (createContent, *faceError) {
	var c createContent
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return c, errInvalidRequestBody("The body is not a valid JSON object of the expected shape.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return c, errInvalidRequestBody("Unexpected data after the JSON object.")
	}
	return c, nil
}

// validate applies the rules both create operations share. Which rule the real service reports first
// when several fail is unknown; this checks mode, model version, lifetime, then device correlation id.
func (c *createContent) validate() (createParams, *faceError) {
	var p createParams
	if c.LivenessOperationMode == nil {
		return p, errInvalidMode
	}
	switch p.mode = *c.LivenessOperationMode; p.mode {
	case modePassive, modePassiveActive:
	default:
		return p, errInvalidMode
	}
	if v := c.LivenessModelVersion; v != nil && *v != modelVersion {
		return p, errBadArgument("livenessModelVersion is not supported.")
	}
	p.ttlSeconds = defaultTTLSeconds
	if ttl := c.AuthTokenTimeToLiveInSeconds; ttl != nil {
		if *ttl != math.Trunc(*ttl) {
			return p, errInvalidRequestBody("authTokenTimeToLiveInSeconds must be an integer.")
		}
		if *ttl < minTTLSeconds || *ttl > maxTTLSeconds {
			return p, errInvalidTokenLifetime
		}
		p.ttlSeconds = int(*ttl)
	}
	setInClient := c.DeviceCorrelationIDSetInClient != nil && *c.DeviceCorrelationIDSetInClient
	switch id := c.DeviceCorrelationID; {
	case setInClient && id != nil:
		return p, errInvalidDeviceCorrelationID
	case !setInClient && (id == nil || *id == "" || utf8.RuneCountInString(*id) > 64):
		return p, errInvalidDeviceCorrelationID
	}
	p.sessionImage = c.EnableSessionImage != nil && *c.EnableSessionImage
	return p, nil
}
