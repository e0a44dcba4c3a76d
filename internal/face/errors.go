package face

import (
	"errors"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// IsNotFound reports whether err is the service saying the session does not exist or has expired
// (404 or error code SessionNotFound).
func IsNotFound(err error) bool {
	re, ok := errors.AsType[*azcore.ResponseError](err)
	return ok && (re.StatusCode == http.StatusNotFound || strings.EqualFold(re.ErrorCode, "SessionNotFound"))
}
