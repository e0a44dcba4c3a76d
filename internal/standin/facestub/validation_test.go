package facestub_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string // default application/json
		wantStatus  int
		wantCode    string
	}{
		{name: "minimal", body: validCreate, wantStatus: 200},
		{name: "Passive", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d"}`, wantStatus: 200},
		{name: "unknown fields ignored", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","userCorrelationId":"u","sendResultsToClient":true}`, wantStatus: 200},
		{name: "ttl bounds", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":60}`, wantStatus: 200},
		{name: "ttl upper bound", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":86400}`, wantStatus: 200},
		{name: "model version", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","livenessModelVersion":"2024-11-15"}`, wantStatus: 200},
		{name: "correlation id set in client", body: `{"livenessOperationMode":"Passive","deviceCorrelationIdSetInClient":true}`, wantStatus: 200},
		{name: "correlation id null when set in client", body: `{"livenessOperationMode":"Passive","deviceCorrelationIdSetInClient":true,"deviceCorrelationId":null}`, wantStatus: 200},
		{name: "correlation id of 64 characters", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"` + strings.Repeat("é", 64) + `"}`, wantStatus: 200},

		{name: "mode missing", body: `{"deviceCorrelationId":"d"}`, wantStatus: 400, wantCode: "InvalidLivenessOperationMode"},
		{name: "mode unknown", body: `{"livenessOperationMode":"Active","deviceCorrelationId":"d"}`, wantStatus: 400, wantCode: "InvalidLivenessOperationMode"},
		{name: "mode in other case", body: `{"livenessOperationMode":"passive","deviceCorrelationId":"d"}`, wantStatus: 400, wantCode: "InvalidLivenessOperationMode"},
		{name: "mode null", body: `{"livenessOperationMode":null,"deviceCorrelationId":"d"}`, wantStatus: 400, wantCode: "InvalidLivenessOperationMode"},
		{name: "ttl below range", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":59}`, wantStatus: 400, wantCode: "InvalidTokenLifetime"},
		{name: "ttl above range", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":86401}`, wantStatus: 400, wantCode: "InvalidTokenLifetime"},
		{name: "ttl negative", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":-600}`, wantStatus: 400, wantCode: "InvalidTokenLifetime"},
		{name: "ttl fraction", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":600.5}`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "ttl as string", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":"600"}`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "correlation id missing", body: `{"livenessOperationMode":"Passive"}`, wantStatus: 400, wantCode: "InvalidDeviceCorrelationId"},
		{name: "correlation id empty", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":""}`, wantStatus: 400, wantCode: "InvalidDeviceCorrelationId"},
		{name: "correlation id too long", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"` + strings.Repeat("a", 65) + `"}`, wantStatus: 400, wantCode: "InvalidDeviceCorrelationId"},
		{name: "correlation id with set in client", body: `{"livenessOperationMode":"Passive","deviceCorrelationIdSetInClient":true,"deviceCorrelationId":"d"}`, wantStatus: 400, wantCode: "InvalidDeviceCorrelationId"},
		{name: "model version unknown", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","livenessModelVersion":"2020-01-01"}`, wantStatus: 400, wantCode: "BadArgument"},
		{name: "malformed json", body: `{"livenessOperationMode":`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "empty body", body: ``, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "array body", body: `[]`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "trailing data", body: validCreate + `{}`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "boolean as string", body: `{"livenessOperationMode":"Passive","deviceCorrelationId":"d","enableSessionImage":"true"}`, wantStatus: 400, wantCode: "InvalidRequestBody"},
		{name: "not json", body: `livenessOperationMode=Passive`, contentType: "application/x-www-form-urlencoded", wantStatus: 400, wantCode: "InvalidRequestBody"},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := createJSON(tt.body)
			if tt.contentType != "" {
				c.contentType = tt.contentType
			}
			r := e.doUnchecked(t, c)
			if tt.wantCode == "" {
				if r.status != tt.wantStatus {
					t.Fatalf("status = %d (%s), want %d", r.status, r.body, tt.wantStatus)
				}
				return
			}
			r.wantError(t, tt.wantStatus, tt.wantCode)
		})
	}
}

func TestCreateWithVerifyValidation(t *testing.T) {
	withFields := func(f form, kv ...[2]string) form {
		f.fields = append(append([][2]string(nil), f.fields...), kv...)
		return f
	}
	valid := verifyForm(jpeg(2048))
	tests := []struct {
		name        string
		form        form
		contentType string
		wantCode    string // "" for 200
	}{
		{name: "jpeg", form: valid},
		{name: "png", form: verifyForm(imageBytes("\x89PNG\r\n\x1a\n", 2048))},
		{name: "gif", form: verifyForm(imageBytes("GIF89a", 2048))},
		{name: "bmp", form: verifyForm(imageBytes("BM", 2048))},
		{name: "1 KB", form: verifyForm(jpeg(1024))},
		{name: "6 MB", form: verifyForm(jpeg(6 << 20))},
		{name: "legacy part name VerifyImage", form: func() form { f := valid; f.imagePart = "VerifyImage"; return f }()},
		{name: "legacy Parameters part", form: form{
			fields:    [][2]string{{"Parameters", `{"livenessOperationMode":"PassiveActive","deviceCorrelationId":"d","authTokenTimeToLiveInSeconds":120}`}},
			imagePart: "VerifyImage", filename: "face.jpg", image: jpeg(2048),
		}},
		{name: "every field", form: withFields(valid, [2]string{"enableSessionImage", "true"}, [2]string{"livenessModelVersion", "2024-11-15"},
			[2]string{"returnVerifyImageHash", "true"}, [2]string{"verifyConfidenceThreshold", "0.4"}, [2]string{"authTokenTimeToLiveInSeconds", "3600"})},
		{name: "unknown part ignored", form: withFields(valid, [2]string{"userCorrelationId", "u"})},

		{name: "image missing", form: func() form { f := valid; f.imagePart = ""; return f }(), wantCode: "InvalidRequestBody"},
		{name: "image without filename", form: func() form { f := valid; f.filename = ""; return f }(), wantCode: "InvalidRequestBody"},
		{name: "image twice", form: func() form { f := valid; f.twice = true; return f }(), wantCode: "InvalidRequestBody"},
		{name: "image too small", form: verifyForm(jpeg(1023)), wantCode: "InvalidImageSize"},
		{name: "image empty", form: verifyForm([]byte{}), wantCode: "InvalidImageSize"},
		{name: "image too large", form: verifyForm(jpeg(6<<20 + 1)), wantCode: "InvalidImageSize"},
		{name: "not an image", form: verifyForm(imageBytes("%PDF-1.7", 2048)), wantCode: "InvalidImage"},
		{name: "mode missing", form: func() form { f := valid; f.fields = [][2]string{{"deviceCorrelationId", "d"}}; return f }(), wantCode: "InvalidLivenessOperationMode"},
		{name: "mode unknown", form: func() form {
			f := valid
			f.fields = [][2]string{{"livenessOperationMode", "Active"}, {"deviceCorrelationId", "d"}}
			return f
		}(), wantCode: "InvalidLivenessOperationMode"},
		{name: "ttl out of range", form: withFields(valid, [2]string{"authTokenTimeToLiveInSeconds", "30"}), wantCode: "InvalidTokenLifetime"},
		{name: "ttl not a number", form: withFields(valid, [2]string{"authTokenTimeToLiveInSeconds", "ten"}), wantCode: "InvalidRequestBody"},
		{name: "boolean not a boolean", form: withFields(valid, [2]string{"enableSessionImage", "maybe"}), wantCode: "InvalidRequestBody"},
		{name: "field twice", form: withFields(valid, [2]string{"livenessOperationMode", "Passive"}), wantCode: "InvalidRequestBody"},
		{name: "correlation id missing", form: func() form { f := valid; f.fields = [][2]string{{"livenessOperationMode", "Passive"}}; return f }(), wantCode: "InvalidDeviceCorrelationId"},
		{name: "correlation id with set in client", form: withFields(valid, [2]string{"deviceCorrelationIdSetInClient", "true"}), wantCode: "InvalidDeviceCorrelationId"},
		{name: "threshold out of range", form: withFields(valid, [2]string{"verifyConfidenceThreshold", "1.5"}), wantCode: "BadArgument"},
		{name: "json instead of multipart", form: valid, contentType: "application/json", wantCode: "InvalidRequestBody"},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.form.call(t)
			if tt.contentType != "" {
				c.contentType = tt.contentType
			}
			r := e.doUnchecked(t, c)
			if tt.wantCode == "" {
				if r.status != http.StatusOK {
					t.Fatalf("status = %d (%s), want 200", r.status, r.body)
				}
				return
			}
			r.wantError(t, http.StatusBadRequest, tt.wantCode)
		})
	}
}
