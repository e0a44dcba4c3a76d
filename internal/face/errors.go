package face

import (
	"errors"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// IsNotFound reports whether err is the service saying the session does not exist or has expired:
// error code SessionNotFound (x-ms-error-code or the body's error.code), under whatever status.
//
// The code decides, not the status. Face v1.2 documents SessionNotFound for 404 and answers every
// error with a code, so a 404 without that code is not Face speaking about the session: a wrong
// FACE_ENDPOINT or path, or a proxy in between. Taking it for "gone" would let Reconcile expire a
// session whose result exists and let CancelSession claim a revocation that never happened; as an
// ordinary upstream error it is retried and logged instead.
func IsNotFound(err error) bool {
	re, ok := errors.AsType[*azcore.ResponseError](err)
	return ok && strings.EqualFold(re.ErrorCode, "SessionNotFound")
}
