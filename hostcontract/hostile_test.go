package hostcontract

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/liveness-quicklink/functions/internal/callbackurl"
	"github.com/liveness-quicklink/functions/internal/standin/facestub"
)

// TestHostileInputThroughTheHost sends hostile requests to the built handler the way the
// Functions host forwards them (its routing, its query rebuilt with repeated keys comma-joined,
// its headers added), for the routes the host forwards; handlers' TestHostileInput holds the
// whole suite, methods the host never forwards included. Each must get its status and problem
// code, leave every table row (and its ETag) as it was, and call no Face.
func TestHostileInputThroughTheHost(t *testing.T) {
	h, stand := startHandler(t)
	const returnURL = AllowedReturnOrigin + "/done"
	start := func() string {
		r := h.Forward(t, "StartSession", "POST", nil, []byte(`{"returnUrl":"`+returnURL+`"}`))
		var v struct {
			SessionID string `json:"sessionId"`
		}
		if r.Status != http.StatusCreated || r.DecodeJSON(&v) != nil {
			t.Fatalf("StartSession: %d %.300s", r.Status, r.Body)
		}
		return v.SessionID
	}
	open, final := start(), start()
	key, err := base64.StdEncoding.DecodeString(stand.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := callbackurl.NewSigner([][]byte{key})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(id string) string {
		return signer.URL(&url.URL{Scheme: "https", Host: "app.example.net"}, id, time.Now().Add(time.Hour))
	}
	if err := stand.Face.AddAttempt(final, facestub.Attempt{Decision: "realface"}); err != nil {
		t.Fatal(err)
	}
	if r := h.ForwardRequest(t, "Callback", mustClientRequest(t, "GET", signed(final), nil, nil)); r.Status != http.StatusSeeOther {
		t.Fatalf("the first callback: %d %.300s, want 303", r.Status, r.Body)
	}
	valid, _ := url.Parse(signed(open))
	sig, exp := valid.Query().Get("sig"), valid.Query().Get("exp")
	gz := map[string]string{"Content-Encoding": "gzip"}
	const guid = "3f1e5a4c-8d2b-4c6e-9a7f-0b1c2d3e4f50"
	lookalike := url.PathEscape(strings.Replace(guid, "e", "\u0435", 1))

	tests := []struct {
		fn, name, method, url string
		body                  []byte
		header                map[string]string
		status                int
		code                  string // "" for an answer that is not a problem
	}{
		{"StartSession", "gzip declared, plain JSON sent", "POST", "/api/sessions", []byte(`{}`), gz, 415, "unsupported_media_type"},
		{"StartSession", "duplicate key, in capitals with a trailing slash", "POST", "/API/SESSIONS/", []byte(`{"kind":"liveness","kind":"liveness"}`), nil, 400, "invalid_request"},
		{"StartSession", "case-variant key", "POST", "/api/sessions", []byte(`{"ExternalReference":"a"}`), nil, 400, "invalid_request"},
		{"StartSession", "deep nesting", "POST", "/api/sessions", []byte(`{"externalReference":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), nil, 400, "invalid_request"},
		{"StartSession", "CRLF in returnUrl", "POST", "/api/sessions", []byte(`{"returnUrl":"` + returnURL + `\r\nSet-Cookie: a=b"}`), nil, 400, "invalid_request"},
		{"StartSession", "charset Latin-1", "POST", "/api/sessions", []byte(`{}`), map[string]string{"Content-Type": "application/json; charset=latin1"}, 415, "unsupported_media_type"},
		{"StartSession", "not UTF-8", "POST", "/api/sessions", []byte("{\"externalReference\":\"\xc0\xaf\"}"), nil, 400, "invalid_request"},
		{"GetSession", "OData quote", "GET", "/api/sessions/%27", nil, nil, 400, "invalid_request"},
		{"GetSession", "OData or-clause", "GET", "/api/sessions/" + url.PathEscape(guid+"' or PartitionKey ne '"), nil, nil, 400, "invalid_request"},
		{"GetSession", "Cyrillic lookalike", "GET", "/api/sessions/" + lookalike, nil, nil, 400, "invalid_request"},
		{"GetSession", "escaped dot-dot", "GET", "/api/sessions/%2E%2E", nil, nil, 400, "invalid_request"},
		{"CancelSession", "OData quote", "DELETE", "/api/sessions/%27", nil, nil, 400, "invalid_request"},
		{"CancelSession", "64 KB id", "DELETE", "/api/sessions/" + strings.Repeat("a", 64<<10), nil, nil, 400, "invalid_request"},
		{"IssueLink", "qr twice", "POST", "/api/sessions/" + open + "/link", []byte(`{"qr":"svg","qr":"png"}`), nil, 400, "invalid_request"},
		{"IssueLink", "gzip declared, plain JSON sent", "POST", "/api/sessions/" + open + "/link", []byte(`{"qr":"svg"}`), gz, 415, "unsupported_media_type"},
		{"IssueLink", "Cyrillic lookalike id", "POST", "/api/sessions/" + lookalike + "/link", nil, nil, 400, "invalid_request"},
		{"IssueLink", "on a final session", "POST", "/api/sessions/" + final + "/link", nil, nil, 409, "session_finalized"},
		{"Callback", "sig repeated (the host joins it)", "GET", valid.String() + "&sig=" + url.QueryEscape(sig), nil, nil, 401, "invalid_signature"},
		{"Callback", "exp repeated (the host joins it)", "GET", valid.String() + "&exp=" + exp, nil, nil, 401, "invalid_signature"},
		{"Callback", "exp tampered", "GET", strings.Replace(valid.String(), "exp="+exp, "exp="+exp+"0", 1), nil, nil, 401, "invalid_signature"},
		{"Callback", "OData quote id, signed", "GET", signed("'"), nil, nil, 401, "invalid_signature"},
		{"Callback", "replay after final", "GET", signed(final), nil, nil, 303, ""},
		{"Callback", "replay after final, POST", "POST", signed(final), []byte(`{"status":"failed"}`), map[string]string{"Accept": "application/json"}, 200, ""},
		{"Health", "query not UTF-8, trailing slash", "GET", "/API/HEALTH/?x=%FF", nil, nil, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.fn+"/"+tt.name, func(t *testing.T) {
			before, faceCalls := tableRows(t, stand.Tables), stand.Face.Stats().Total
			r := h.ForwardRequest(t, tt.fn, mustClientRequest(t, tt.method, tt.url, tt.body, tt.header))
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d (body %.300s)", r.Status, tt.status, r.Body)
			}
			if tt.code != "" {
				var p struct{ Code string }
				if r.MediaType() != "application/problem+json" || r.DecodeJSON(&p) != nil || p.Code != tt.code {
					t.Errorf("answer %s %.300s, want application/problem+json with code %q", r.MediaType(), r.Body, tt.code)
				}
			}
			if got := stand.Face.Stats().Total - faceCalls; got != 0 {
				t.Errorf("the Face stand-in got %d requests, want none", got)
			}
			if after := tableRows(t, stand.Tables); !maps.Equal(before, after) {
				t.Errorf("the tables changed: %d rows → %d rows", len(before), len(after))
			}
		})
	}
	t.Logf("%d hostile cases through the host", len(tests))
}

// mustClientRequest is a client's request to the app; target is a path (with its query) or an
// absolute URL. A body comes as application/json unless header says otherwise.
func mustClientRequest(t *testing.T, method, target string, body []byte, header map[string]string) *http.Request {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = "https://app.example.net" + target
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// tableRows is every row of every table of the account, keyed "table/PartitionKey/RowKey", with
// its ETag: two snapshots are equal only if nothing was added, changed or removed.
func tableRows(t *testing.T, connStr string) map[string]string {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(connStr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out := map[string]string{}
	tables := svc.NewListTablesPager(nil)
	for tables.More() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			t.Fatalf("listing tables: %v", err)
		}
		for _, tbl := range page.Tables {
			rows := svc.NewClient(*tbl.Name).NewListEntitiesPager(nil)
			for rows.More() {
				rp, err := rows.NextPage(ctx)
				if err != nil {
					t.Fatalf("listing %s: %v", *tbl.Name, err)
				}
				for _, raw := range rp.Entities {
					var e struct {
						PartitionKey, RowKey string
						ETag                 string `json:"odata.etag"`
					}
					if err := json.Unmarshal(raw, &e); err != nil {
						t.Fatal(err)
					}
					out[*tbl.Name+"/"+e.PartitionKey+"/"+e.RowKey] = e.ETag
				}
			}
		}
	}
	return out
}
