package facestub

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
)

// parseCreateMultipart reads the body of CreateLivenessWithVerifySession: flat form fields and a
// verifyImage file part (VerifyImage, and a JSON Parameters part, as older samples send them).
func parseCreateMultipart(contentType string, body io.Reader) (createParams, *faceError) {
	mt, mtParams, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || mtParams["boundary"] == "" {
		return createParams{}, errInvalidRequestBody("Content-Type must be multipart/form-data with a boundary.")
	}
	mr := multipart.NewReader(body, mtParams["boundary"])
	fields := map[string]string{}
	var image []byte
	var legacy *createContent
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return createParams{}, errInvalidRequestBody("The multipart body is malformed.")
		}
		switch name := part.FormName(); name {
		case "verifyImage", "VerifyImage":
			if image != nil {
				return createParams{}, errInvalidRequestBody("Only one verifyImage may be sent.")
			}
			if part.FileName() == "" {
				return createParams{}, errInvalidRequestBody("The verifyImage part must have a filename.")
			}
			if image, err = io.ReadAll(io.LimitReader(part, maxImageBytes+1)); err != nil {
				return createParams{}, errInvalidRequestBody("The multipart body is malformed.")
			}
			if len(image) > maxImageBytes {
				return createParams{}, errInvalidImageSize
			}
		case "Parameters":
			raw, ferr := readField(part)
			if ferr != nil {
				return createParams{}, ferr
			}
			c, ferr := decodeContent([]byte(raw))
			if ferr != nil {
				return createParams{}, ferr
			}
			legacy = &c
		default:
			if !isFormField(name) {
				continue // unknown parts are ignored; NextPart skips what is left of them
			}
			if _, dup := fields[name]; dup {
				return createParams{}, errInvalidRequestBody("Field " + name + " is sent more than once.")
			}
			v, ferr := readField(part)
			if ferr != nil {
				return createParams{}, ferr
			}
			fields[name] = v
		}
	}
	var c createContent
	if legacy != nil {
		c = *legacy
	}
	if ferr := c.setFields(fields); ferr != nil {
		return createParams{}, ferr
	}
	p, ferr := c.validate()
	if ferr != nil {
		return createParams{}, ferr
	}
	if image == nil {
		return createParams{}, errInvalidRequestBody("The verifyImage file part is required.")
	}
	if len(image) < minImageBytes {
		return createParams{}, errInvalidImageSize
	}
	if !isImage(image) {
		return createParams{}, errInvalidImage
	}
	sum := sha256.Sum256(image)
	p.verifyHash = strings.ToUpper(hex.EncodeToString(sum[:]))
	if c.ReturnVerifyImageHash != nil {
		p.returnHash = *c.ReturnVerifyImageHash
	}
	if t := c.VerifyConfidenceThreshold; t != nil {
		if *t < 0 || *t > 1 || math.IsNaN(*t) {
			return createParams{}, errBadArgument("verifyConfidenceThreshold must be within 0 to 1.")
		}
		p.threshold, p.hasThreshold = *t, true
	}
	return p, nil
}

func isFormField(name string) bool {
	switch name {
	case "livenessOperationMode", "deviceCorrelationIdSetInClient", "enableSessionImage", "livenessModelVersion",
		"returnVerifyImageHash", "verifyConfidenceThreshold", "deviceCorrelationId", "authTokenTimeToLiveInSeconds":
		return true
	}
	return false
}

func readField(part *multipart.Part) (string, *faceError) {
	b, err := io.ReadAll(io.LimitReader(part, maxFieldSize+1))
	if err != nil {
		return "", errInvalidRequestBody("The multipart body is malformed.")
	}
	if len(b) > maxFieldSize {
		return "", errInvalidRequestBody("Field " + part.FormName() + " is too large.")
	}
	return string(b), nil
}

// setFields overlays form fields on c. An empty field counts as absent: a form has no null.
func (c *createContent) setFields(fields map[string]string) *faceError {
	for name, v := range fields {
		if v == "" {
			continue
		}
		var err error
		switch name {
		case "livenessOperationMode":
			c.LivenessOperationMode = &v
		case "livenessModelVersion":
			c.LivenessModelVersion = &v
		case "deviceCorrelationId":
			c.DeviceCorrelationID = &v
		case "deviceCorrelationIdSetInClient":
			c.DeviceCorrelationIDSetInClient, err = parseBool(v)
		case "enableSessionImage":
			c.EnableSessionImage, err = parseBool(v)
		case "returnVerifyImageHash":
			c.ReturnVerifyImageHash, err = parseBool(v)
		case "authTokenTimeToLiveInSeconds", "verifyConfidenceThreshold":
			var f float64
			if f, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				if name == "verifyConfidenceThreshold" {
					c.VerifyConfidenceThreshold = &f
				} else {
					c.AuthTokenTimeToLiveInSeconds = &f
				}
			}
		}
		if err != nil {
			return errInvalidRequestBody("Field " + name + " has an invalid value.")
		}
	}
	return nil
}

func parseBool(s string) (*bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return &b, err
}
