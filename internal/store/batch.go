package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// maxBatchActions is Azure's limit for one entity-group transaction.
const maxBatchActions = 100

// submit runs actions as one entity-group transaction. Azure requires a single partition and at most
// 100 actions; Azurite enforces neither, so we do, lest tests pass what production rejects.
func (s *Store) submit(ctx context.Context, op, partition string, actions []aztables.TransactionAction) error {
	if err := checkBatch(partition, actions); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if _, err := s.table.SubmitTransaction(ctx, actions, nil); err != nil {
		return mapBatchError(op, err)
	}
	return nil
}

func checkBatch(partition string, actions []aztables.TransactionAction) error {
	if len(actions) == 0 || len(actions) > maxBatchActions {
		return fmt.Errorf("a transaction holds 1 to %d actions, not %d", maxBatchActions, len(actions))
	}
	for i, a := range actions {
		var keys struct{ PartitionKey *string }
		if err := json.Unmarshal(a.Entity, &keys); err != nil {
			return fmt.Errorf("action %d: %w", i, err)
		}
		if keys.PartitionKey == nil || *keys.PartitionKey != partition {
			return fmt.Errorf("action %d: a transaction stays in partition %q", i, partition)
		}
	}
	return nil
}

// batchFailure is the first failed action of a rejected entity-group transaction.
type batchFailure struct {
	Status int    // HTTP status of the failed action
	Code   string // table error code, e.g. UpdateConditionNotSatisfied; empty if absent
	Index  int    // 0-based index of the failed action; -1 if the service did not say
}

const maxBatchBody = 1 << 20

var errNoFailedPart = errors.New("no failed action in the batch response")

// parseBatchFailure reads the multipart/mixed body of a transaction the service answered with 202:
// a changeset whose parts are HTTP responses, the failed one carrying
// {"odata.error":{"code":…,"message":{"value":"<index>:…"}}}. contentType is the response's header;
// when it is missing, the boundary is taken from the body's first line.
func parseBatchFailure(contentType string, body []byte) (batchFailure, error) {
	if len(body) > maxBatchBody {
		return batchFailure{}, errors.New("batch response too large")
	}
	boundary, err := boundaryOf(contentType, body)
	if err != nil {
		return batchFailure{}, err
	}
	outer := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := outer.NextPart()
		if err == io.EOF {
			return batchFailure{}, errNoFailedPart
		}
		if err != nil {
			return batchFailure{}, fmt.Errorf("batch response: %w", err)
		}
		mediaType, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
			continue
		}
		if f, err := changesetFailure(multipart.NewReader(part, params["boundary"])); !errors.Is(err, errNoFailedPart) {
			return f, err
		}
	}
}

func changesetFailure(r *multipart.Reader) (batchFailure, error) {
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return batchFailure{}, errNoFailedPart
		}
		if err != nil {
			return batchFailure{}, fmt.Errorf("changeset: %w", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			return batchFailure{}, fmt.Errorf("changeset response: %w", err)
		}
		if resp.StatusCode < 400 {
			continue
		}
		f := batchFailure{Status: resp.StatusCode, Index: -1}
		var e struct {
			Error struct {
				Code    string
				Message struct{ Value string }
			} `json:"odata.error"`
		}
		// The status alone decides the mapping; code and index are best effort.
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e) == nil {
			f.Code = e.Error.Code
			if n, _, ok := strings.Cut(e.Error.Message.Value, ":"); ok {
				if i, err := strconv.Atoi(n); err == nil && i >= 0 {
					f.Index = i
				}
			}
		}
		return f, nil
	}
}

func boundaryOf(contentType string, body []byte) (string, error) {
	if mediaType, params, err := mime.ParseMediaType(contentType); err == nil &&
		strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" {
		return params["boundary"], nil
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	b, ok := bytes.CutPrefix(line, []byte("--"))
	if !ok || len(b) == 0 || len(b) > 70 {
		return "", errors.New("batch response without a multipart boundary")
	}
	return string(b), nil
}
