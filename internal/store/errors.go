package store

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/liveness"
	"github.com/liveness-quicklink/functions/internal/upstream"
)

// errMissingETag is a programming error: an update must say which version it replaces.
var errMissingETag = errors.New("store: conditional write without an ETag")

// mapError translates a table service error into the kinds of package liveness. The original error is
// kept only for upstream failures: for the others the kind says all there is to say.
func mapError(op string, err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return unavailable(op, err)
	}
	status, code := re.StatusCode, re.ErrorCode
	if status == http.StatusAccepted && re.RawResponse != nil {
		// A failed entity-group transaction: the verdict is in the multipart body.
		body, perr := runtime.Payload(re.RawResponse)
		if perr != nil {
			return unavailable(op, err)
		}
		f, perr := parseBatchFailure(re.RawResponse.Header.Get("Content-Type"), body)
		if perr != nil {
			// Not perr's text: a parser quotes what it could not read, and that is the body.
			return unavailable(op, fmt.Errorf("unreadable batch response: %w", upstream.Redact(err)))
		}
		status, code = f.Status, f.Code
		op = fmt.Sprintf("%s (action %d)", op, f.Index)
	}
	switch {
	case status == http.StatusNotFound && code != string(aztables.TableNotFound):
		return fmt.Errorf("store: %s: %w", op, liveness.ErrNotFound)
	case status == http.StatusConflict && code == string(aztables.EntityAlreadyExists):
		return fmt.Errorf("store: %s: %w", op, liveness.ErrAlreadyExists)
	case status == http.StatusPreconditionFailed:
		return fmt.Errorf("store: %s: %w", op, liveness.ErrConflict)
	}
	return unavailable(op, err)
}

// mapBatchError is mapError for Finalize, where an existing row (the outbox row of an earlier commit)
// means the same as a stale ETag: someone else finalized first.
func mapBatchError(op string, err error) error {
	err = mapError(op, err)
	if errors.Is(err, liveness.ErrAlreadyExists) {
		return fmt.Errorf("store: %s: %w", op, liveness.ErrConflict)
	}
	return err
}

// unavailable is an upstream failure as it may be logged: no SAS query, no response body.
func unavailable(op string, err error) error {
	return fmt.Errorf("store: %s: %w: %w", op, liveness.ErrUpstreamUnavailable, upstream.Redact(withoutQuery(err)))
}

// withoutQuery drops the query of the URL a transport error names: with SAS authentication it
// holds the signature, and these errors reach log lines.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
		u.RawQuery = ""
		ue.URL = u.String()
	}
	return err
}
