package store

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// noEcho asks the service not to send an inserted row back (Prefer: return-no-content, answered
// 204 with the ETag header). By default an insert is answered 201 with the whole row, the Face
// auth token included, which aztables decodes and re-encodes only for the store to drop it.
func noEcho(ctx context.Context) context.Context {
	return policy.WithHTTPHeader(ctx, http.Header{"Prefer": []string{"return-no-content"}})
}

// rawRow receives the body of a point read as the service sent it (see takeRow).
type rawRow struct{ body []byte }

type rawRowKey struct{}

// withRawRow marks ctx's read for takeRow; the row is in the returned rawRow once the read
// returns, or nil when the client has no takeRow (a client this package did not build).
func withRawRow(ctx context.Context) (context.Context, *rawRow) {
	r := &rawRow{}
	return context.WithValue(ctx, rawRowKey{}, r), r
}

// takeRow is a per-call policy of this package's clients (clientOptions). aztables decodes a read
// row into a map[string]any and encodes it to JSON again before the store decodes it into its
// entity: three passes over every session read. For a read marked by withRawRow, takeRow keeps
// the 200 answer's body for the store and hands aztables an empty one, so the row is decoded once.
// Being per call, it sees the final answer, after retries; errors keep their body.
type takeRow struct{}

func (takeRow) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	slot, _ := req.Raw().Context().Value(rawRowKey{}).(*rawRow)
	if err != nil || slot == nil || resp.StatusCode != http.StatusOK || req.Raw().Method != http.MethodGet {
		return resp, err
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return resp, err
	}
	slot.body = body
	resp.Body = http.NoBody
	return resp, nil
}

// getRow reads one row: its JSON, decoded by no one yet when the client has takeRow, and its ETag.
func (s *Store) getRow(ctx context.Context, pk, rk string) ([]byte, string, error) {
	ctx, raw := withRawRow(ctx)
	resp, err := s.table.GetEntity(ctx, pk, rk, nil)
	if err != nil {
		return nil, "", err
	}
	if raw.body != nil {
		return raw.body, string(resp.ETag), nil
	}
	return resp.Value, string(resp.ETag), nil
}
