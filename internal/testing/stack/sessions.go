package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Started is the part of StartSession's 201 answer a flow needs.
type Started struct {
	SessionID string
	Link      string // a secret: the quick link URL
}

// StartSession calls StartSession directly on the handler with body (JSON) and wants 201.
func (s *Stack) StartSession(ctx context.Context, body any) (Started, error) {
	var out Started
	var answer struct {
		SessionID string `json:"sessionId"`
		Link      struct {
			URL string `json:"url"`
		} `json:"link"`
	}
	b, err := json.Marshal(body)
	if err != nil {
		return out, err
	}
	// Seen does not keep this answer: the link is where it belongs here, and nowhere else.
	got, err := s.send(ctx, http.MethodPost, s.HandlerURL+"/api/sessions", "application/json", b, http.StatusCreated, false)
	if err != nil {
		return out, err
	}
	// The answer holds the link, a secret: an error does not quote it.
	if err := json.Unmarshal(got, &answer); err != nil {
		return out, fmt.Errorf("StartSession: the 201 answer does not decode: %w", err)
	}
	return Started{SessionID: answer.SessionID, Link: answer.Link.URL}, nil
}

// Capture plays the user on the quick link stand-in's capture page: it opens link (which tells
// the stand-in the callback URL), posts outcome (realface, spoofface, uncertain, error or
// abandon) and returns the callback URL the stand-in sends the browser to (its return mode must
// be "get").
func (s *Stack) Capture(ctx context.Context, link, outcome string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("the quick link does not parse: %w", err)
	}
	page, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(page)
	if err != nil {
		return "", fmt.Errorf("opening the capture page: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("opening the capture page: %s, want 200", resp.Status)
	}
	id := u.Query().Get("s")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.StandinURL+"/capture/"+url.PathEscape(id),
		strings.NewReader(url.Values{"outcome": {outcome}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("capture %s: %s, want 303 to the callback", outcome, resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

// Callback follows the user's return to callbackURL (GET, no redirect followed) and returns the
// status and Location; Seen keeps the body.
func (s *Stack) Callback(ctx context.Context, callbackURL string) (status int, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, callbackURL, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	s.Seen.add("GET <callback>", b)
	return resp.StatusCode, resp.Header.Get("Location"), err
}

// SessionStatus reads the session's row straight from Azurite (past any TablesProxy) and returns
// its Status column.
func (s *Stack) SessionStatus(ctx context.Context, id string) (string, error) {
	svc, err := aztables.NewServiceClientFromConnectionString(s.TablesConnectionString, nil)
	if err != nil {
		return "", err
	}
	resp, err := svc.NewClient(sessionsTable).GetEntity(ctx, id, "session", nil)
	if err != nil {
		return "", fmt.Errorf("reading session %s's row: %w", id, err)
	}
	var row struct{ Status string }
	if err := json.Unmarshal(resp.Value, &row); err != nil {
		return "", fmt.Errorf("session %s's row: %w", id, err)
	}
	return row.Status, nil
}

// sessionsTable is the store's table name without a prefix (internal/store).
const sessionsTable = "sessions"
