package facestub

import (
	"encoding/json"
	"net/http"
)

// faceError is an error the way the Face API reports it: an HTTP status, a code that is also sent as the
// x-ms-error-code header, and a message.
type faceError struct {
	status  int
	code    string
	message string
}

func (e *faceError) Error() string { return e.code + ": " + e.message }

// Messages follow Face's error-code reference where it gives one.
func errInvalidRequestBody(detail string) *faceError {
	return &faceError{http.StatusBadRequest, "InvalidRequestBody", "Incorrect request body provided. " + detail}
}

func errBadArgument(message string) *faceError {
	return &faceError{http.StatusBadRequest, "BadArgument", message}
}

var (
	errInvalidMode = &faceError{http.StatusBadRequest, "InvalidLivenessOperationMode",
		"Invalid liveness operation mode provided. Must be 'Passive' or 'PassiveActive'."}
	errInvalidTokenLifetime = &faceError{http.StatusBadRequest, "InvalidTokenLifetime",
		"Invalid token lifetime provided. Must be within 60 to 86400."}
	errInvalidDeviceCorrelationID = &faceError{http.StatusBadRequest, "InvalidDeviceCorrelationId",
		"Invalid device correlation ID provided. Must not be null or empty, and be no more than 64 characters."}
	errInvalidImage = &faceError{http.StatusBadRequest, "InvalidImage",
		"Invalid image format or content. Supported formats include JPEG, PNG, GIF (the first frame) and BMP."}
	errInvalidImageSize = &faceError{http.StatusBadRequest, "InvalidImageSize",
		"Image size is too small or too big. The valid image file size should be from 1KB to 6MB."}
	errSessionNotFound = &faceError{http.StatusNotFound, "SessionNotFound",
		"Session ID is not found. The session ID is expired or does not exist."}
	errSessionImageNotFound = &faceError{http.StatusNotFound, "SessionImageNotFound",
		"Session image is not found. The session image ID is expired or does not exist."}
	errUnauthorized = &faceError{http.StatusUnauthorized, "401",
		"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}
	errThrottled = &faceError{http.StatusTooManyRequests, "429", "Rate limit is exceeded. Try again later."}
	errInternal  = &faceError{http.StatusInternalServerError, "InternalServerError", "An internal server error occurred."}
	errNotFound  = &faceError{http.StatusNotFound, "NotFound", "Resource not found."}
)

func writeError(w http.ResponseWriter, e *faceError) {
	w.Header().Set("x-ms-error-code", e.code)
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, e.status, struct {
		Error body `json:"error"`
	}{body{e.code, e.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here; failing to encode them is a bug, not a client's problem.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
