package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Seen keeps every answer body of the app the stack's calls received (GetSession, Reconcile,
// Fetch; not the stand-in's controls, which exist to hand out secrets), for the secret scan.
type Seen struct {
	mu      sync.Mutex
	answers []Answer
}

// Answer is one answer's body and the request it answered (which may hold a secret the
// test sent on purpose, such as a used link: scan Body only).
type Answer struct {
	Request, Body string
}

func (s *Seen) add(request string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, Answer{Request: request, Body: string(body)})
}

// All is every answer kept.
func (s *Seen) All() []Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Answer(nil), s.answers...)
}

// Session is the part of GetSession's answer the browser tests check (design §3).
type Session struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
	Outcome   *struct {
		Decision     string `json:"decision"`
		AttemptCount int    `json:"attemptCount"`
		Failure      *struct {
			Code string `json:"code"`
		} `json:"failure"`
	} `json:"outcome"`
}

// GetSession calls GetSession directly on the handler.
func (s *Stack) GetSession(ctx context.Context, id string) (Session, error) {
	var out Session
	body, err := s.call(ctx, http.MethodGet, s.HandlerURL+"/api/sessions/"+id, "", nil, http.StatusOK)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("GetSession %s: %w: %s", id, err, body)
	}
	return out, nil
}

// timerEnvelope is what the Functions host posts to /Reconcile for a timer run.
const timerEnvelope = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},` +
	`"Metadata":{"sys":{"MethodName":"Reconcile","UtcNow":"2026-01-01T00:00:00Z","RandGuid":"5b1e8f0e-3c1a-4a38-9d4e-2f7f0c6a1b2c"}}}`

// Reconcile runs the Reconcile function as the host does (POST /Reconcile with the timer envelope).
func (s *Stack) Reconcile(ctx context.Context) error {
	_, err := s.call(ctx, http.MethodPost, s.HandlerURL+"/Reconcile", "application/json", []byte(timerEnvelope), http.StatusOK)
	return err
}

// SetReturnMode switches how the quick link stand-in returns the browser: "get" (303 to the
// callback URL) or "post" (an auto-submitted form), and whether it appends parameters.
func (s *Stack) SetReturnMode(ctx context.Context, mode string, appendParams bool) error {
	body, _ := json.Marshal(map[string]any{"returnMode": mode, "appendParams": appendParams})
	_, err := s.call(ctx, http.MethodPut, s.StandinURL+"/_quicklink/settings", "application/json", body, http.StatusNoContent)
	return err
}

// IssuedTokens is every Face auth token the stand-in issued.
func (s *Stack) IssuedTokens(ctx context.Context) ([]string, error) {
	var out struct {
		Tokens []string `json:"tokens"`
	}
	return out.Tokens, s.control(ctx, s.StandinURL+"/_stub/issued-tokens", &out)
}

// IssuedLinkIDs is every quick link id (the `s` value) the stand-in issued.
func (s *Stack) IssuedLinkIDs(ctx context.Context) ([]string, error) {
	var out struct {
		LinkIDs []string `json:"linkIds"`
	}
	return out.LinkIDs, s.control(ctx, s.StandinURL+"/_quicklink/issued", &out)
}

// TableRows is every entity of every table in Azurite, each as the JSON the service returned.
func (s *Stack) TableRows(ctx context.Context) ([]string, error) {
	svc, err := aztables.NewServiceClientFromConnectionString(s.TablesConnectionString, nil)
	if err != nil {
		return nil, err
	}
	var rows []string
	tables := svc.NewListTablesPager(nil)
	for tables.More() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		for _, t := range page.Tables {
			entities := svc.NewClient(*t.Name).NewListEntitiesPager(nil)
			for entities.More() {
				ep, err := entities.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list entities of %s: %w", *t.Name, err)
				}
				for _, e := range ep.Entities {
					rows = append(rows, *t.Name+": "+string(e))
				}
			}
		}
	}
	return rows, nil
}

// control reads one of the stand-in's controls into out; Seen does not keep its answer.
func (s *Stack) control(ctx context.Context, url string, out any) error {
	body, err := s.send(ctx, http.MethodGet, url, "", nil, http.StatusOK, false)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w: %s", url, err, body)
	}
	return nil
}

// call sends one request and returns the answer's body, which Seen keeps; an answer other than
// want is an error carrying the body.
func (s *Stack) call(ctx context.Context, method, url, contentType string, body []byte, want int) ([]byte, error) {
	return s.send(ctx, method, url, contentType, body, want, true)
}

func (s *Stack) send(ctx context.Context, method, url, contentType string, body []byte, want int, keep bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	if keep {
		s.Seen.add(method+" "+url, b)
	}
	if resp.StatusCode != want {
		return b, fmt.Errorf("%s %s: %s, want %d: %s", method, url, resp.Status, want, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Fetch sends a GET (no redirect followed) to url and returns the status and body, which Seen
// keeps: for the pages a test checks besides the browser's (a used link, a forged callback).
func (s *Stack) Fetch(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	s.Seen.add("GET "+url, b)
	return resp.StatusCode, b, err
}
