package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// apiClient calls the function app's HTTP API (api/openapi.yaml) server-side, as "your app"
// would: the function key never reaches the browser.
type apiClient struct {
	base        string // the function app's base URL, without a trailing slash
	functionKey string // sent as x-functions-key when set; never logged
	http        *http.Client
}

// apiTimeout bounds one call to the function API; StartSession with a link makes two upstream
// calls (Face, quick link), each with its own retries, so it gets room.
const apiTimeout = 30 * time.Second

// maxAnswer bounds what is read of an answer: a QR code in SVG is a few tens of KiB.
const maxAnswer = 1 << 20

// guid is a session id as the API writes it (lower-case; upper case is accepted and folded).
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// sessionID returns s lower-cased when it is a GUID, the only shape put into an API URL.
func sessionID(s string) (string, bool) {
	if !guid.MatchString(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// link is the IssueLink answer inside StartSession's 201 answer. URL is a bearer secret.
type link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
	QRSvg     string    `json:"qrSvg"`
}

// session is the part of GetSession's answer (schema Session) the demo shows.
type session struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
	Passed    *bool  `json:"passed"`
	Outcome   *struct {
		Decision string `json:"decision"`
		Failure  *struct {
			Code string `json:"code"`
		} `json:"failure"`
	} `json:"outcome"`
	Link *link `json:"link"` // StartSession's answer only
}

// final reports whether status never changes again (design §4).
func final(status string) bool {
	switch status {
	case "completed", "failed", "abandoned", "expired", "canceled":
		return true
	}
	return false
}

// apiError is an answer of the API other than the expected one: its status and, from its
// problem+json body, the title and code (never the rest of the body). Status 0 means the API
// could not be reached.
type apiError struct {
	Status int
	Title  string
	Code   string
	err    error
}

func (e *apiError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("function API unreachable: %v", e.err)
	}
	return fmt.Sprintf("function API answered %d %s (%s)", e.Status, e.Code, e.Title)
}

func (e *apiError) Unwrap() error { return e.err }

// startSession is StartSession with a link and its QR code in SVG, returning to returnURL.
func (c *apiClient) startSession(ctx context.Context, returnURL string) (*session, error) {
	body, err := json.Marshal(map[string]any{"issueLink": true, "qr": "svg", "returnUrl": returnURL})
	if err != nil {
		return nil, err
	}
	var s session
	if err := c.do(ctx, http.MethodPost, "/api/sessions", body, http.StatusCreated, &s); err != nil {
		return nil, err
	}
	if _, ok := sessionID(s.SessionID); !ok || s.Link == nil {
		return nil, &apiError{Status: http.StatusCreated, Title: "answer without a session id or a link", Code: "unexpected_answer"}
	}
	return &s, nil
}

// getSession is GetSession; id must have passed sessionID.
func (c *apiClient) getSession(ctx context.Context, id string) (*session, error) {
	var s session
	if err := c.do(ctx, http.MethodGet, "/api/sessions/"+url.PathEscape(id), nil, http.StatusOK, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body []byte, want int, into any) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.functionKey != "" {
		req.Header.Set("x-functions-key", c.functionKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL of the error is the API's, never the link; the key is in a header.
		return &apiError{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &apiError{Status: resp.StatusCode, Title: "answer cut short", Code: "unreadable_answer", err: err}
	}
	if resp.StatusCode != want {
		return problemOf(resp, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return &apiError{Status: resp.StatusCode, Title: "answer is not the documented JSON", Code: "unexpected_answer", err: err}
	}
	return nil
}

// problemOf reads title and code of a problem+json answer; any other body is not shown at all.
func problemOf(resp *http.Response, b []byte) error {
	e := &apiError{Status: resp.StatusCode}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		var p struct {
			Title string `json:"title"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(b, &p) == nil {
			e.Title, e.Code = clip(p.Title), clip(p.Code)
		}
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// asAPIError is err as the one error type the pages explain.
func asAPIError(err error) *apiError {
	if e, ok := errors.AsType[*apiError](err); ok {
		return e
	}
	return &apiError{Title: "internal error", Code: "internal_error", err: err}
}

// clip bounds a string of the API's answer shown on a page.
func clip(s string) string {
	const limit = 200
	if len(s) > limit {
		return s[:limit]
	}
	return s
}
