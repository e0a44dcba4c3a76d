package store

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/liveness-quicklink/functions/internal/liveness"
)

// Bodies as Azurite 3.37.0 sends them for a stale If-Match (action 0) and a duplicate insert (action 1).
const (
	azuriteCT  = "multipart/mixed; boundary=batchresponse_0e86dc41-c27a-4ed1-4f65-8cf242f5d41e"
	azurite412 = "--batchresponse_0e86dc41-c27a-4ed1-4f65-8cf242f5d41e\r\nContent-Type: multipart/mixed; boundary=changesetresponse_112ba4ba-2e9d-49ff-509b-e1e4c69bd17d\r\n\r\n--changesetresponse_112ba4ba-2e9d-49ff-509b-e1e4c69bd17d\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 412 Precondition Failed\r\nContent-ID: 1\r\nDataServiceVersion: 3.0;\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n{\"odata.error\":{\"code\":\"UpdateConditionNotSatisfied\",\"message\":{\"lang\":\"en-US\",\"value\":\"0:The update condition specified in the request was not satisfied.\\nRequestId:c4b672f2-b666-4b93-aeab-ac6adde39ce1\\nTime:2026-11-25T21:22:29.849Z\"}}}\r\n--changesetresponse_112ba4ba-2e9d-49ff-509b-e1e4c69bd17d--\r\n--batchresponse_0e86dc41-c27a-4ed1-4f65-8cf242f5d41e--\r\n"
	azurite409 = "--batchresponse_0e86dc41-c27a-4ed1-4f65-8cf242f5d41e\r\nContent-Type: multipart/mixed; boundary=changesetresponse_f8de6ea2-dc43-41b5-7155-7aebfb891ac8\r\n\r\n--changesetresponse_f8de6ea2-dc43-41b5-7155-7aebfb891ac8\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-ID: 2\r\nDataServiceVersion: 3.0;\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n{\"odata.error\":{\"code\":\"EntityAlreadyExists\",\"message\":{\"lang\":\"en-US\",\"value\":\"1:The specified entity already exists.\\nRequestId:eef4d35d-410c-45d8-b220-d72a1d96f936\\nTime:2026-11-25T21:22:29.854Z\"}}}\r\n--changesetresponse_f8de6ea2-dc43-41b5-7155-7aebfb891ac8--\r\n--batchresponse_0e86dc41-c27a-4ed1-4f65-8cf242f5d41e--\r\n"
	// The shape of Azure's documented sample: LF line ends, XML error, a successful part first.
	azureXML = "--batchresponse_7ab1c250\nContent-Type: multipart/mixed; boundary=changesetresponse_8b3e\n\n--changesetresponse_8b3e\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\nHTTP/1.1 204 No Content\nContent-ID: 1\n\n\n--changesetresponse_8b3e\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\nHTTP/1.1 400 Bad Request\nContent-ID: 2\nContent-Type: application/xml\n\n<?xml version=\"1.0\" encoding=\"utf-8\"?><error><code>InvalidInput</code><message>1:One of the request inputs is not valid.</message></error>\n--changesetresponse_8b3e--\n--batchresponse_7ab1c250--\n"
)

func TestParseBatchFailure(t *testing.T) {
	for name, tc := range map[string]struct {
		contentType, body string
		want              batchFailure
		wantErr           bool
	}{
		"azurite stale etag":               {azuriteCT, azurite412, batchFailure{412, "UpdateConditionNotSatisfied", 0}, false},
		"azurite duplicate insert":         {azuriteCT, azurite409, batchFailure{409, "EntityAlreadyExists", 1}, false},
		"boundary from the body":           {"", azurite412, batchFailure{412, "UpdateConditionNotSatisfied", 0}, false},
		"azure xml, failure after success": {"multipart/mixed; boundary=batchresponse_7ab1c250", azureXML, batchFailure{400, "", -1}, false},
		"json error instead of multipart":  {"application/json", `{"odata.error":{"code":"InvalidInput"}}`, batchFailure{}, true},
		"no failed part":                   {"", strings.Replace(azurite412, "412 Precondition Failed", "204 No Content", 1), batchFailure{}, true},
		"empty":                            {"", "", batchFailure{}, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseBatchFailure(tc.contentType, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseBatchFailure error = %v, want error: %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseBatchFailure = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseBatchFailure(f *testing.F) {
	for _, body := range []string{azurite412, azurite409, azureXML, "", "--x\r\n", "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\nHTTP/1.1 412 X\r\n\r\n{\"odata.error\":{\"message\":{\"value\":\"-3:\"}}}\r\n--c--\r\n--b--"} {
		f.Add(azuriteCT, []byte(body))
		f.Add("", []byte(body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		got, err := parseBatchFailure(contentType, body)
		if err != nil {
			if got != (batchFailure{}) {
				t.Errorf("parseBatchFailure returned %+v with error %v", got, err)
			}
			return
		}
		if got.Status < 400 || got.Index < -1 {
			t.Errorf("parseBatchFailure = %+v: a failure has a 4xx/5xx status and an index ≥ -1", got)
		}
	})
}

func TestMapError(t *testing.T) {
	respErr := func(status int, code, contentType, body string) error {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(strings.NewReader(body))}
		return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: resp}
	}
	for name, tc := range map[string]struct {
		err  error
		want error
	}{
		"entity not found":      {respErr(404, "ResourceNotFound", "", ""), liveness.ErrNotFound},
		"table not found":       {respErr(404, "TableNotFound", "", ""), liveness.ErrUpstreamUnavailable},
		"entity already exists": {respErr(409, "EntityAlreadyExists", "", ""), liveness.ErrAlreadyExists},
		"table being deleted":   {respErr(409, "TableBeingDeleted", "", ""), liveness.ErrUpstreamUnavailable},
		"stale etag":            {respErr(412, "UpdateConditionNotSatisfied", "", ""), liveness.ErrConflict},
		"forbidden":             {respErr(403, "AuthorizationFailure", "", ""), liveness.ErrUpstreamUnavailable},
		"batch 412":             {respErr(202, "", azuriteCT, azurite412), liveness.ErrConflict},
		"batch unreadable":      {respErr(202, "", "", "garbage"), liveness.ErrUpstreamUnavailable},
		"not a response":        {errors.New("dial tcp: refused"), liveness.ErrUpstreamUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			got := mapError("op", tc.err)
			if !errors.Is(got, tc.want) {
				t.Errorf("mapError = %v, want %v", got, tc.want)
			}
			if errors.Is(tc.want, liveness.ErrUpstreamUnavailable) && !errors.Is(got, tc.err) {
				t.Errorf("mapError = %v does not keep the original error", got)
			}
		})
	}
	if got := mapBatchError("op", respErr(202, "", azuriteCT, azurite409)); !errors.Is(got, liveness.ErrConflict) {
		t.Errorf("mapBatchError(batch 409) = %v, want ErrConflict", got)
	}
}

func TestCheckBatch(t *testing.T) {
	row := func(pk string) aztables.TransactionAction {
		b, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": "r"})
		return aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: b}
	}
	many := func(n int) []aztables.TransactionAction {
		a := make([]aztables.TransactionAction, n)
		for i := range a {
			a[i] = row("p")
		}
		return a
	}
	for name, tc := range map[string]struct {
		actions []aztables.TransactionAction
		ok      bool
	}{
		"one":                 {many(1), true},
		"one hundred":         {many(maxBatchActions), true},
		"none":                {nil, false},
		"one hundred and one": {many(maxBatchActions + 1), false},
		"two partitions":      {append(many(2), row("q")), false},
		"no partition key":    {[]aztables.TransactionAction{{Entity: []byte(`{"RowKey":"r"}`)}}, false},
		"entity is not json":  {[]aztables.TransactionAction{{Entity: []byte(`nope`)}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkBatch("p", tc.actions); (err == nil) != tc.ok {
				t.Errorf("checkBatch = %v, want ok: %v", err, tc.ok)
			}
		})
	}
}
