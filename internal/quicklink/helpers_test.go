package quicklink

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const (
	testToken = "eyJhbGciOiJFUzI1NiIs.eyJzZXNzaW9uIjoic2VjcmV0In0.c2lnbmF0dXJl"
	testS     = "60c3980c-d9f6-4b16-a7f5-f1f4ad2b506f"
	answerOK  = `{"url": "/?s=` + testS + `"}`
)

// seen is one request as the stand-in upstream received it.
type seen struct {
	method, path string
	header       http.Header
	body         []byte
	at           time.Time // the fake clock inside a synctest bubble
}

// script answers with its responses in order (the last repeats) and records every request.
type script struct {
	mu      sync.Mutex
	reqs    []seen
	answers []reply
}

type reply struct {
	status int
	header map[string]string
	body   string
	hang   bool // block until the request is canceled
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, seen{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body, time.Now()})
	a := s.answers[min(len(s.reqs), len(s.answers))-1]
	s.mu.Unlock()
	if a.hang {
		<-r.Context().Done()
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (s *script) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func answering(answers ...reply) *script { return &script{answers: answers} }

func ok(body string) reply { return reply{status: http.StatusOK, body: body} }

// direct is a transport that calls a handler without sockets, so that retry tests run inside a
// synctest bubble on its fake clock.
type direct struct{ h http.Handler }

func (t direct) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// newTestClient returns a client for endpoint; h, when set, is called directly instead of over
// the network.
func newTestClient(t *testing.T, endpoint string, h http.Handler, tweak func(*ClientOptions)) *Client {
	t.Helper()
	o := &ClientOptions{}
	if h != nil {
		o.Transport = direct{h}
	}
	if tweak != nil {
		tweak(o)
	}
	c, err := NewClient(endpoint, o)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", endpoint, err)
	}
	return c
}
