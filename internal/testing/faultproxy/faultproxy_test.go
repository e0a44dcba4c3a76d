package faultproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int // 0: no answer at all
		wantSeen   int64
	}{
		{"lose commits and loses the answer", Lose, 0, 1},
		{"fail commits and answers 500", Fail, http.StatusInternalServerError, 1},
		{"stall commits and holds the answer past the client's timeout", Stall, 0, 1},
		{"refuse never forwards", Refuse, http.StatusServiceUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen atomic.Int64
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if string(b) == `{"RowKey":"session"}` && r.URL.Path == "/acct/table" {
					seen.Add(1)
				}
				w.WriteHeader(http.StatusCreated)
			}))
			defer backend.Close()
			p, err := New(backend.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			p.Inject(Rule{Method: "POST", Body: `"RowKey":"session"`, Fault: tt.fault})

			client := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}
			send := func() (*http.Response, error) {
				return client.Post(p.URL()+"/acct/table", "application/json", strings.NewReader(`{"RowKey":"session"}`))
			}
			resp, err := send()
			switch {
			case tt.wantStatus == 0 && err == nil:
				resp.Body.Close()
				t.Errorf("the client got an answer (%d), want none", resp.StatusCode)
			case tt.wantStatus != 0 && err != nil:
				t.Errorf("the client got %v, want status %d", err, tt.wantStatus)
			case tt.wantStatus != 0 && resp.StatusCode != tt.wantStatus:
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if err == nil {
				resp.Body.Close()
			}
			if tt.fault == Stall && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
				t.Errorf("stalled exchange ended with %v, want the client's timeout", err)
			}
			waitFor(t, func() bool { return seen.Load() == tt.wantSeen })

			// The rule is used up: the next exchange passes through.
			resp, err = send()
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("second exchange = %v, %v; want 201 through the proxy", resp, err)
			}
			resp.Body.Close()
			if got := p.Spoiled(); got != 1 {
				t.Errorf("Spoiled = %d, want 1", got)
			}
			if got := p.Pending(); got != 0 {
				t.Errorf("Pending = %d, want 0", got)
			}
		})
	}
}

func TestRuleMatching(t *testing.T) {
	req := httptest.NewRequest("MERGE", "/acct/t(PartitionKey='p',RowKey='session')", nil)
	body := []byte(`{"FaceDeleted":true}`)
	tests := []struct {
		rule Rule
		want bool
	}{
		{Rule{}, true},
		{Rule{Method: "merge"}, true},
		{Rule{Method: "PUT"}, false},
		{Rule{Path: "RowKey='session'"}, true},
		{Rule{Path: "RowKey='event'"}, false},
		{Rule{Body: "FaceDeleted"}, true},
		{Rule{Method: "MERGE", Path: "RowKey='session'", Body: "Status"}, false},
	}
	for _, tt := range tests {
		if got := tt.rule.matches(req, req.URL.Path, body); got != tt.want {
			t.Errorf("%+v matches = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInFrontRewritesTheTableEndpoint(t *testing.T) {
	cs := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	p, got := InFront(t, cs)
	want := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=" + p.URL() + "/devstoreaccount1;"
	if got != want {
		t.Errorf("connection string = %q, want %q", got, want)
	}
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Errorf("proxy URL = %q, want loopback", p.URL())
	}
}

func TestRefuseAnswersAsAThrottledTableWithTheRulesHeaders(t *testing.T) {
	p, err := New("http://127.0.0.1:1") // never reached
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Inject(Rule{Fault: Refuse, Header: http.Header{"Retry-After": {"30"}}})
	resp, err := http.Get(p.URL() + "/acct/table")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for name, got := range map[string]string{
		"status":          resp.Status,
		"Retry-After":     resp.Header.Get("Retry-After"),
		"x-ms-error-code": resp.Header.Get("x-ms-error-code"),
	} {
		want := map[string]string{"status": "503 Service Unavailable", "Retry-After": "30", "x-ms-error-code": "ServerBusy"}[name]
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(string(body), `"code":"ServerBusy"`) || !strings.Contains(string(body), RefusedBody) {
		t.Errorf("body = %s, want an OData ServerBusy error holding RefusedBody", body)
	}
}

func TestSkipAndMatchPickTheNthExchangeAndExchangesRecordsAll(t *testing.T) {
	p, err := New("http://127.0.0.1:1") // refused exchanges never reach it
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Inject(Rule{Fault: Refuse, Skip: 1, Match: func(method, path string, _ []byte) bool {
		return method == "GET" && strings.HasSuffix(path, "/b")
	}})
	var statuses []int
	for _, path := range []string{"/b", "/a", "/b", "/b"} {
		resp, err := http.Get(p.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	// Unmatched and skipped exchanges are forwarded to a closed port: 502 from the proxy.
	if want := []int{502, 502, 503, 502}; !slices.Equal(statuses, want) {
		t.Errorf("statuses = %v, want %v (only the second /b refused)", statuses, want)
	}
	var paths []string
	for _, x := range p.Exchanges() {
		paths = append(paths, x.Method+" "+x.Path)
	}
	if want := []string{"GET /b", "GET /a", "GET /b", "GET /b"}; !slices.Equal(paths, want) {
		t.Errorf("Exchanges = %v, want %v", paths, want)
	}
}

func TestSetDownCutsEveryExchangeUntilBack(t *testing.T) {
	var seen atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	p, err := New(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	get := func() (int, error) {
		resp, err := client.Get(p.URL() + "/acct/table")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	p.SetDown(true)
	for range 2 {
		if status, err := get(); err == nil {
			t.Errorf("while down the client got an answer (%d), want none", status)
		}
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the service saw %d requests while down, want 0", n)
	}
	p.SetDown(false)
	if status, err := get(); err != nil || status != http.StatusNoContent {
		t.Errorf("once back: %d, %v; want 204", status, err)
	}
	if n := seen.Load(); n != 1 {
		t.Errorf("the service saw %d requests once back, want 1", n)
	}
}
